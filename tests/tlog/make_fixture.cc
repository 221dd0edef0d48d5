// ycr-tlog-fixture: writes a transparency log built by ycr's own tree and
// note code (common/tlog.h, common/signed_note.h) as files, for the Go
// verifier (tests/tlog/verify.go) to check with Go's packages:
//
//   DIR/vkey             the verifier key
//   DIR/checkpoint       signed checkpoint of SIZE records
//   DIR/old-checkpoint   signed checkpoint of OLD records (same log)
//   DIR/tile/<L>/<N>...  every hash tile of the tree of SIZE records
//   DIR/records/<i>      the bytes of a few records
//
// --tamper makes one thing wrong, for the verifier to catch: "tile" (the
// hash of record 1 in its tile, on record 0's audit path), "record" (a
// record's bytes), "key" (the
// checkpoint signed by another key of the same name), "fork" (the old
// checkpoint from another history).

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/signed_note.h"
#include "common/tlog.h"

namespace {

using ycr::tlog::Hash;

struct Tree {
  std::vector<Hash> stored;
  int64_t size = 0;

  ycr::tlog::HashReader Reader() const {
    return [this](absl::Span<const int64_t> indexes)
               -> absl::StatusOr<std::vector<Hash>> {
      std::vector<Hash> out;
      for (int64_t i : indexes) {
        if (i < 0 || i >= static_cast<int64_t>(stored.size())) {
          return absl::NotFoundError(absl::StrCat("no stored hash ", i));
        }
        out.push_back(stored[i]);
      }
      return out;
    };
  }

  void Append(const std::string& record) {
    absl::StatusOr<std::vector<Hash>> add =
        ycr::tlog::StoredHashes(size, ycr::tlog::RecordHash(record), Reader());
    if (!add.ok()) {
      std::cerr << add.status() << "\n";
      std::exit(1);
    }
    stored.insert(stored.end(), add->begin(), add->end());
    ++size;
  }
};

// Record i: text and a few binary bytes, as stored records are.
std::string Record(int64_t i, bool other_history = false) {
  return absl::StrCat("ycr record ", i, other_history ? " (forked)" : "",
                      std::string("\0\x01\xff", 3));
}

void Write(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) {
    std::cerr << "cannot write " << path << "\n";
    std::exit(1);
  }
}

template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::cerr << value.status() << "\n";
    std::exit(1);
  }
  return *std::move(value);
}

std::string SignedCheckpoint(const std::string& origin, const Tree& tree,
                             int64_t size, const ycr::note::Signer& signer) {
  ycr::note::Checkpoint checkpoint;
  checkpoint.origin = origin;
  checkpoint.size = size;
  checkpoint.root = OrDie(ycr::tlog::TreeHash(size, tree.Reader()));
  return OrDie(
      ycr::note::Sign(ycr::note::FormatCheckpoint(checkpoint), signer));
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  int64_t size = 0;
  int64_t old = 0;
  std::string tamper;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> std::string {
      const std::string prefix = absl::StrCat("--", name, "=");
      return arg.rfind(prefix, 0) == 0 ? arg.substr(prefix.size()) : "";
    };
    if (arg == "--help") {
      std::cout << "usage: ycr-tlog-fixture --dir=DIR --size=N --old=M "
                   "[--tamper=tile|record|key|fork]\n";
      return 0;
    }
    if (!value("dir").empty()) {
      dir = value("dir");
    } else if (!value("size").empty()) {
      (void)absl::SimpleAtoi(value("size"), &size);
    } else if (!value("old").empty()) {
      (void)absl::SimpleAtoi(value("old"), &old);
    } else if (!value("tamper").empty()) {
      tamper = value("tamper");
    } else {
      std::cerr << "unknown argument " << arg << " (see --help)\n";
      return 2;
    }
  }
  if (dir.empty() || size < 1 || old < 1 || old > size) {
    std::cerr << "need --dir, --size >= 1 and 1 <= --old <= --size\n";
    return 2;
  }
  const std::string origin = "council.example/ycr/v1";
  const ycr::note::Signer signer = OrDie(ycr::note::NewSigner(origin));
  Tree tree;
  for (int64_t i = 0; i < size; ++i) tree.Append(Record(i));
  const std::filesystem::path root(dir);
  Write(root / "vkey", ycr::note::VerifierKey(signer) + "\n");
  const ycr::note::Signer other = OrDie(ycr::note::NewSigner(origin));
  Write(root / "checkpoint",
        SignedCheckpoint(origin, tree, size, tamper == "key" ? other : signer));
  if (tamper == "fork") {
    Tree forked;
    for (int64_t i = 0; i < old; ++i) forked.Append(Record(i, i == old / 2));
    Write(root / "old-checkpoint",
          SignedCheckpoint(origin, forked, old, signer));
  } else {
    Write(root / "old-checkpoint", SignedCheckpoint(origin, tree, old, signer));
  }
  for (int level = 0; level < 8; ++level) {
    for (int64_t n = 0;; ++n) {
      absl::StatusOr<ycr::tlog::Tile> tile = ycr::tlog::TileOf(level, n, size);
      if (!tile.ok()) break;
      std::string bytes = OrDie(ycr::tlog::TileHashes(*tile, tree.Reader()));
      // Record 1's hash: on the audit path of record 0.
      if (tamper == "tile" && level == 0 && n == 0) bytes[32 + 5] ^= 0x01;
      Write(root / ycr::tlog::TilePath(*tile), bytes);
    }
  }
  for (int64_t i : {int64_t{0}, old - 1, size / 2, size - 1}) {
    std::string bytes = Record(i);
    if (tamper == "record" && i == size - 1) bytes[0] ^= 0x20;
    Write(root / "records" / absl::StrCat(i), bytes);
  }
  std::cout << "wrote a log of " << size << " records to " << dir << "\n";
  return 0;
}
