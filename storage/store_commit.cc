// Store's commit groups: writers queue, the front one stages a group (its own and every
// writer queued behind it) into a WriteTxn and writes it, itself or through the store's
// writer thread; groups are written one at a time, in order. The next groups are staged
// on top of the ones not yet written (store.h, Commit).
#include <memory>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "storage/keys.h"
#include "storage/rocks_status.h"
#include "storage/store.h"

namespace pulse::storage {

struct Store::Writer {
  Writer(std::function<absl::Status(WriteTxn&)> s, bool d, bool p)
      : stage(std::move(s)), durable(d), pipelined(p) {}
  std::function<absl::Status(WriteTxn&)> stage;
  const bool durable;
  const bool pipelined;
  // Set by the group's leader (the stage's result) and then by the writer thread; read
  // by the writer's own thread once `done`. Guarded by queue_mu_ from `staged` on.
  absl::Status status;
  bool staged = false;  // its stage has run: it is in a group handed to the writer, or done
  bool done = false;    // its group is written, or failed
  CondVar cv;
};

// A group staged and queued to be written; later groups may be staged on top of it until
// `written`. Guarded by queue_mu_ except `txn`, which its leader builds and the writer
// then reads (and later groups read as one of their bases).
struct Store::StagedGroup {
  std::unique_ptr<rocksdb::WriteBatch> batch;  // what `txn` stages into
  std::unique_ptr<WriteTxn> txn;
  std::vector<std::shared_ptr<Writer>> writers;
  bool durable = false;
  bool write_started = false;
  bool written = false;
  absl::Status status;
};

absl::Status Store::Commit(std::function<absl::Status(WriteTxn&)> stage, bool durable,
                           bool pipelined) {
  // The caller waits for the write anyway: a group it leads, it writes itself (no hand-off
  // to the writer thread and back).
  return Await(*Submit(std::move(stage), durable, pipelined, WriteBy::kLeader));
}

std::shared_ptr<Store::Writer> Store::Submit(std::function<absl::Status(WriteTxn&)> stage,
                                             bool durable, bool pipelined, WriteBy write_by) {
  auto self = std::make_shared<Writer>(std::move(stage), durable, pipelined);
  std::shared_ptr<StagedGroup> to_write;
  {
    MutexLock lock(&queue_mu_);
    writers_.push_back(self);
    while (!self->staged && (staging_ || writers_.front() != self)) self->cv.Wait(&queue_mu_);
    if (!self->staged) to_write = LeadGroup(write_by == WriteBy::kLeader);
  }
  if (to_write != nullptr) WriteGroup(*to_write);
  return self;
}

absl::Status Store::Await(Writer& writer) {
  MutexLock lock(&queue_mu_);
  while (!writer.done) writer.cv.Wait(&queue_mu_);
  return writer.status;
}

absl::Status Store::WriteFailure(Writer& writer) {
  MutexLock lock(&queue_mu_);
  return writer.done ? writer.status : absl::OkStatus();
}

std::shared_ptr<Store::StagedGroup> Store::LeadGroup(bool write_here) {
  // Everyone queued now, up to the group limit.
  staging_ = true;
  std::vector<std::shared_ptr<Writer>> group;
  bool all_pipelined = true;
  while (!writers_.empty() && static_cast<int>(group.size()) < options_.max_group_size) {
    all_pipelined = all_pipelined && writers_.front()->pipelined;
    group.push_back(std::move(writers_.front()));
    writers_.pop_front();
  }
  // A group of pipelined writers is staged on the groups not yet written (at most
  // kMaxUnwrittenGroups of them); any other waits until all are written.
  if (all_pipelined) {
    while (unwritten_.size() >= kMaxUnwrittenGroups) written_cv_.Wait(&queue_mu_);
  } else {
    while (!unwritten_.empty()) written_cv_.Wait(&queue_mu_);
  }
  const std::vector<std::shared_ptr<StagedGroup>> bases(unwritten_.begin(), unwritten_.end());
  const uint64_t head = bases.empty() ? committed_head_ : bases.back()->txn->head();
  auto mine = std::make_shared<StagedGroup>();
  if (spare_batches_.empty()) {
    mine->batch = std::make_unique<rocksdb::WriteBatch>();
  } else {
    mine->batch = std::move(spare_batches_.back());
    spare_batches_.pop_back();
  }
  queue_mu_.Unlock();
  const absl::Time stage_start = absl::Now();

  std::vector<const WriteTxn*> base_txns;
  for (const std::shared_ptr<StagedGroup>& base : bases) base_txns.push_back(base->txn.get());
  mine->txn = std::make_unique<WriteTxn>(db_.get(), cf_, head, mine->batch.get(),
                                         std::move(base_txns), tombstone_filter_.get());
  WriteTxn& txn = *mine->txn;
  for (const std::shared_ptr<Writer>& w : group) {
    mine->durable = mine->durable || w->durable;
    txn.SetSavePoint();
    absl::Status status = w->stage(txn);
    if (status.ok()) {
      txn.PopSavePoint();
    } else {
      txn.RollbackToSavePoint();
    }
    w->status = std::move(status);
  }
  txn.StageOriginMarks();
  if (txn.has_appended()) txn.Put(cf_.meta, kMetaHead, EncodeSequence(txn.head()));
  txn.DetachBases();
  stage_nanos_.fetch_add(absl::ToInt64Nanoseconds(absl::Now() - stage_start),
                         std::memory_order_relaxed);
  if (!txn.empty()) {
    commit_groups_.fetch_add(1, std::memory_order_relaxed);
    if (!bases.empty()) pipelined_groups_.fetch_add(1, std::memory_order_relaxed);
  }

  // Staged. A group staged on one whose write has failed fails the same way (its stage
  // read those writes; the failed write failed every group queued behind it already).
  queue_mu_.Lock();
  absl::Status upstream;
  for (const std::shared_ptr<StagedGroup>& base : bases) {
    if (!base->status.ok()) upstream = base->status;
  }
  for (const std::shared_ptr<Writer>& w : group) w->staged = true;
  std::shared_ptr<StagedGroup> to_write;
  const bool queued = upstream.ok() && !txn.empty();
  if (queued) {
    // Queued to be written after its bases; the writer thread goes straight on to it
    // from the write before (or its leader writes it, when nothing is written before it).
    mine->writers = std::move(group);
    unwritten_.push_back(mine);
    if (write_here && unwritten_.size() == 1) {
      mine->write_started = true;  // the writer thread leaves it alone
      to_write = std::move(mine);
    } else {
      writer_cv_.Signal();
    }
  } else if (upstream.ok() && !unwritten_.empty()) {
    // Nothing to write, but its stage may have read what the groups before it write: it
    // is done when they are, and fails if they fail.
    StagedGroup& last = *unwritten_.back();
    for (std::shared_ptr<Writer>& w : group) last.writers.push_back(std::move(w));
  } else {
    for (const std::shared_ptr<Writer>& w : group) {
      if (!upstream.ok() && w->status.ok()) w->status = upstream;
      w->done = true;
      w->cv.Signal();
    }
  }
  if (!queued) RecycleBatch(*mine);  // nothing reads it any more
  staging_ = false;
  if (!writers_.empty()) writers_.front()->cv.Signal();
  return to_write;
}

void Store::WriteLoop() {
  for (;;) {
    std::shared_ptr<StagedGroup> group;
    {
      MutexLock lock(&queue_mu_);
      while (!stopping_ && (unwritten_.empty() || unwritten_.front()->write_started)) {
        writer_cv_.Wait(&queue_mu_);
      }
      // Stopping, with nothing left to write.
      if (unwritten_.empty() || unwritten_.front()->write_started) return;
      group = unwritten_.front();
      group->write_started = true;
    }
    WriteGroup(*group);
  }
}

void Store::WriteGroup(StagedGroup& group) {
  // Groups are written one at a time, in order (the front of unwritten_ only, by the
  // writer thread or by its leader): resume_needed_ needs no lock.
  WriteTxn& txn = *group.txn;
  MaybeResume();
  rocksdb::WriteOptions options;
  options.sync = options_.sync_writes && group.durable;
  const absl::Time write_start = absl::Now();
  absl::Status written = FromRocks(db_->Write(options, txn.batch()), "commit");
  write_nanos_.fetch_add(absl::ToInt64Nanoseconds(absl::Now() - write_start),
                         std::memory_order_relaxed);
  if (!written.ok()) resume_needed_ = true;
  // Readers see an entry only once it is durable: with sync_writes, a group written
  // without an fsync (a part of a batch before its last) is published by the next synced
  // group, whose WAL sync covers it (a hub must never serve what a power loss could take
  // back: peers' cursors would pass sequences the hub then hands out again). Before the
  // next group can be written, so heads are published in order (Publish ignores a head
  // that does not move).
  if (written.ok() && (group.durable || !options_.sync_writes)) log_->Publish(txn.head());

  MutexLock lock(&queue_mu_);
  if (written.ok() && txn.has_appended()) committed_head_ = txn.head();
  group.status = written;
  group.written = true;
  unwritten_.pop_front();  // `group`
  // Groups staged on this one have finished staging (only one group is staged at a time,
  // and the next to take a batch starts after this one's readers are done).
  RecycleBatch(group);
  CompleteWriters(group, written);
  if (!written.ok()) {
    // Every group queued behind it was staged on its writes: they fail the same way.
    for (const std::shared_ptr<StagedGroup>& later : unwritten_) {
      later->status = written;
      later->written = true;
      RecycleBatch(*later);
      CompleteWriters(*later, written);
    }
    unwritten_.clear();
  } else if (!unwritten_.empty()) {
    writer_cv_.Signal();  // the writer thread takes the next one on (at once, if it is this)
  }
  written_cv_.SignalAll();
}

void Store::RecycleBatch(StagedGroup& group) {
  // The buffer of ordinary groups is kept, so that the next group's is not grown and
  // faulted in afresh (a 500-change push is 0.9 MB); that of an unusually large one is
  // let go. At most one spare per group that can be unwritten or staging at once.
  constexpr std::size_t kKeptBatchBytes = 64 << 20;
  if (group.batch == nullptr) return;
  if (group.batch->GetDataSize() <= kKeptBatchBytes &&
      spare_batches_.size() <= kMaxUnwrittenGroups) {
    spare_batches_.push_back(std::move(group.batch));
  }
  group.batch.reset();
}

void Store::CompleteWriters(StagedGroup& group, const absl::Status& written) {
  for (const std::shared_ptr<Writer>& w : group.writers) {
    if (!written.ok() && w->status.ok()) w->status = written;
    w->done = true;
    w->cv.Signal();
  }
}

void Store::StartWriter() {
  writer_thread_ = std::thread([this] { WriteLoop(); });
}

void Store::StopWriter() {
  if (!writer_thread_.joinable()) return;
  {
    MutexLock lock(&queue_mu_);
    stopping_ = true;
    writer_cv_.Signal();
  }
  writer_thread_.join();
}

void Store::MaybeResume() {
  if (!resume_needed_) return;
  const absl::Time now = absl::Now();
  if (now - last_resume_attempt_ < absl::Milliseconds(100)) return;
  last_resume_attempt_ = now;
  // Busy means RocksDB's own background recovery is running; anything else but OK means
  // the cause (a full disk) is still there.
  if (db_->Resume().ok()) resume_needed_ = false;
}

}  // namespace pulse::storage
