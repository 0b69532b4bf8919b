// Store's commit groups: writers queue, the front one stages a group (its own and every
// writer queued behind it) into a WriteTxn and writes it, itself or through the store's
// writer thread; groups are written one at a time, in order. The next group is staged on
// top of the one being written (store.h, Commit).
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

// A group staged and handed to the writer thread; the next group may be staged on top of
// it until `written`. Guarded by queue_mu_ except `txn`, which its leader builds and the
// writer thread then reads (and the next group reads as its base).
struct Store::StagedGroup {
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
  if (!all_pipelined) {
    while (writing_ != nullptr) written_cv_.Wait(&queue_mu_);
  }
  std::shared_ptr<StagedGroup> base = writing_;
  const uint64_t head = base != nullptr ? base->txn->head() : committed_head_;
  rocksdb::WriteBatch* batch = &group_batches_[next_batch_];
  next_batch_ ^= 1;
  queue_mu_.Unlock();
  const absl::Time stage_start = absl::Now();

  // The batch's last user was the group before the base: written, and no longer read.
  // The buffer of ordinary groups is kept; that of an unusually large one is let go.
  constexpr std::size_t kKeptBatchBytes = 64 << 20;
  if (batch->GetDataSize() > kKeptBatchBytes) *batch = rocksdb::WriteBatch();
  auto mine = std::make_shared<StagedGroup>();
  mine->txn = std::make_unique<WriteTxn>(db_.get(), cf_, head, batch,
                                         base != nullptr ? base->txn.get() : nullptr);
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
  txn.DetachBase();
  stage_nanos_.fetch_add(absl::ToInt64Nanoseconds(absl::Now() - stage_start),
                         std::memory_order_relaxed);
  if (!txn.empty()) {
    commit_groups_.fetch_add(1, std::memory_order_relaxed);
    if (base != nullptr) pipelined_groups_.fetch_add(1, std::memory_order_relaxed);
  }

  // Staged. The group goes to be written after its base (at once when the base is
  // written; else queued as next_, which the base's writer takes on the moment it is
  // done). The lead passes to the next writer only once the base is written: that one
  // stages on top of this group, and a WriteTxn reads through one unwritten base only.
  queue_mu_.Lock();
  const bool queued = base != nullptr && !base->written && !txn.empty();
  if (queued) {
    mine->writers = group;
    next_ = mine;
  }
  while (base != nullptr && !base->written) written_cv_.Wait(&queue_mu_);
  // A queued group's outcome is set by the base's writer, who took it on or failed it.
  const absl::Status upstream = base != nullptr ? base->status : absl::OkStatus();
  const bool write_now = !queued && upstream.ok() && !txn.empty();
  for (const std::shared_ptr<Writer>& w : group) {
    w->staged = true;
    if (!queued && !write_now) {
      // Nothing to write, or staged on a group whose write failed: fails the same way.
      if (!upstream.ok() && w->status.ok()) w->status = upstream;
      w->done = true;
    }
    w->cv.Signal();
  }
  std::shared_ptr<StagedGroup> to_write;
  if (write_now) {
    mine->writers = std::move(group);
    if (write_here) {
      mine->write_started = true;  // the writer thread leaves it alone
      to_write = mine;
    } else {
      writer_cv_.Signal();
    }
    writing_ = std::move(mine);
  }
  base.reset();
  staging_ = false;
  if (!writers_.empty()) writers_.front()->cv.Signal();
  return to_write;
}

void Store::WriteLoop() {
  for (;;) {
    std::shared_ptr<StagedGroup> group;
    {
      MutexLock lock(&queue_mu_);
      while (!stopping_ && (writing_ == nullptr || writing_->write_started)) {
        writer_cv_.Wait(&queue_mu_);
      }
      if (writing_ == nullptr || writing_->write_started) return;  // stopping, nothing left
      group = writing_;
      group->write_started = true;
    }
    WriteGroup(*group);
  }
}

void Store::WriteGroup(StagedGroup& group) {
  // One group is written at a time (the next is handed on only once this one is
  // written), by the writer thread or by its leader: resume_needed_ needs no lock.
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
  writing_.reset();
  CompleteWriters(group, written);
  if (next_ != nullptr) {
    std::shared_ptr<StagedGroup> next = std::move(next_);
    if (written.ok()) {
      // The writer thread takes it on (at once, when that is this thread).
      writing_ = std::move(next);
      writer_cv_.Signal();
    } else {
      // Staged on this group's writes: it fails the same way.
      next->status = written;
      next->written = true;
      CompleteWriters(*next, written);
    }
  }
  written_cv_.SignalAll();
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
