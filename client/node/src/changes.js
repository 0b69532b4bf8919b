'use strict';
// Builders of the changes an agent pushes, and readers of received ones. A builder fills
// in what the hub checks that the caller should not have to think about: fresh 16-byte
// ids, an entity_type matching the payload, the change's collective_id, millisecond
// timestamps, and an embedding of exactly the collective's dimension. `sequence` and
// `source_instance` stay unset: HubClient.push assigns them.
const { newId } = require('./ids');

function collectiveChange(name, embeddingDimension, { collectiveId, ownerId } = {}) {
  if (!(embeddingDimension > 0)) throw new RangeError('embeddingDimension must be positive');
  const now = Date.now();
  const collective = {
    id: collectiveId || newId(),
    name,
    embedding_dimension: embeddingDimension,
    created_at: now,
    updated_at: now,
  };
  if (ownerId) collective.owner_id = ownerId;
  return {
    sequence: 0,
    collective_id: collective.id,
    entity_type: 'SYNC_ENTITY_TYPE_COLLECTIVE',
    payload: { collective_created: collective },
    timestamp: now,
  };
}

// An experience in `collective` (a Collective, e.g. from createdCollective). The embedding
// defaults to zeros; one of another length than the collective's dimension throws here
// rather than coming back INVALID_ARGUMENT from the hub. The type defaults to Generic.
function experienceChange(collective, content, {
  embedding,
  experienceType = { generic: {} },
  importance = 0.5,
  confidence = 0.5,
  domain = [],
  sourceAgent = '',
  tags = {},
} = {}) {
  const dimension = collective.embedding_dimension;
  const vector = embedding ? Array.from(embedding) : new Array(dimension).fill(0);
  if (vector.length !== dimension) {
    throw new RangeError(`embedding has ${vector.length} values; collective ` +
      `${JSON.stringify(collective.name)} wants ${dimension}`);
  }
  const now = Date.now();
  return {
    sequence: 0,
    collective_id: collective.id,
    entity_type: 'SYNC_ENTITY_TYPE_EXPERIENCE',
    payload: {
      experience_created: {
        id: newId(),
        collective_id: collective.id,
        content,
        embedding: vector,
        experience_type: experienceType,
        importance,
        confidence,
        domain,
        source_agent: sourceAgent,
        timestamp: now,
        tags,
      },
    },
    timestamp: now,
  };
}

const PAYLOAD_KINDS = [
  'experience_created', 'experience_updated', 'experience_archived', 'experience_deleted',
  'relation_created', 'relation_deleted', 'insight_created', 'insight_deleted',
  'collective_created',
];

// Which payload a change carries, e.g. 'experience_created' ('' when none). Received
// changes name it in payload.kind; built ones just have the one member set.
function payloadKind(change) {
  const payload = change.payload || {};
  return payload.kind || PAYLOAD_KINDS.find((kind) => payload[kind]) || '';
}

function createdCollective(change) {
  return payloadKind(change) === 'collective_created' ? change.payload.collective_created : null;
}

function createdExperience(change) {
  return payloadKind(change) === 'experience_created' ? change.payload.experience_created : null;
}

module.exports = {
  collectiveChange, experienceChange, payloadKind, createdCollective, createdExperience,
};
