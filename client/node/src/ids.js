'use strict';
// Ids as the hub wants them: 16 raw bytes (a UUID) on the wire, never text. New ids are
// UUID version 7 like the hub's own (48 bits of Unix milliseconds, then random bits), so
// ids made later sort later in the stores' keys.
const crypto = require('crypto');

const ID_SIZE = 16;

function newId() {
  const id = crypto.randomBytes(ID_SIZE);
  id.writeUIntBE(Date.now(), 0, 6);
  id[6] = (id[6] & 0x0f) | 0x70; // version 7
  id[8] = (id[8] & 0x3f) | 0x80; // RFC 4122 variant
  return id;
}

// The canonical 8-4-4-4-12 form, for logs and JSON; plain hex if not 16 bytes.
function idText(raw) {
  const hex = Buffer.from(raw).toString('hex');
  if (hex.length !== 2 * ID_SIZE) return hex;
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}

function idBytes(text) {
  const hex = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a UUID: ${text}`);
  return Buffer.from(hex, 'hex');
}

module.exports = { ID_SIZE, newId, idText, idBytes };
