// WritePrivateFile: what the CLI writes (exports of personal data) is its
// owner's only, whole or absent, and never lands through a link.

#include "common/files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"

namespace ycr {
namespace {

// Sets the process umask for the scope of a test.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(umask(mask)) {}
  ~ScopedUmask() { umask(old_); }

 private:
  const mode_t old_;
};

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

TEST(WritePrivateFileTest, TheOwnerOnlyWhateverTheUmask) {
  test::TempDir dir;
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
    ScopedUmask scoped(mask);
    const std::string path = dir.path() + "/export-" + std::to_string(mask);
    ASSERT_TRUE(WritePrivateFile(path, "personal data\n").ok());
    EXPECT_EQ(ModeOf(path), 0600u) << "umask " << mask;
    EXPECT_EQ(*ReadFile(path), "personal data\n");
  }
}

TEST(WritePrivateFileTest, ReplacesAReadableFileWithAPrivateOne) {
  test::TempDir dir;
  ScopedUmask scoped(022);
  const std::string path = dir.path() + "/trail.jsonl";
  std::ofstream(path) << "an older, longer export that anyone could read\n";
  ASSERT_EQ(ModeOf(path), 0644u);
  ASSERT_TRUE(WritePrivateFile(path, "new").ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(*ReadFile(path), "new");
  // No temporary file left beside it.
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"trail.jsonl"});
}

TEST(WritePrivateFileTest, EmptyContentsAndARelativePath) {
  test::TempDir dir;
  const std::string cwd = std::filesystem::current_path().string();
  ASSERT_EQ(chdir(dir.path().c_str()), 0);
  const absl::Status written = WritePrivateFile("empty", "");
  ASSERT_EQ(chdir(cwd.c_str()), 0);
  ASSERT_TRUE(written.ok()) << written;
  EXPECT_EQ(ModeOf(dir.path() + "/empty"), 0600u);
  EXPECT_EQ(*ReadFile(dir.path() + "/empty"), "");
}

TEST(WritePrivateFileTest, LeavesWhatIsNotARegularFileAlone) {
  test::TempDir dir;
  // A symbolic link is not followed, nor replaced.
  const std::string target = dir.path() + "/target";
  std::ofstream(target) << "kept";
  const std::string link = dir.path() + "/link";
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  absl::Status status = WritePrivateFile(link, "x");
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_NE(status.message().find(link), std::string::npos) << status;
  EXPECT_EQ(*ReadFile(target), "kept");
  EXPECT_TRUE(std::filesystem::is_symlink(link));

  const std::string sub = dir.path() + "/sub";
  std::filesystem::create_directory(sub);
  EXPECT_TRUE(absl::IsFailedPrecondition(WritePrivateFile(sub, "x")));
  EXPECT_TRUE(std::filesystem::is_directory(sub));
  EXPECT_TRUE(absl::IsInvalidArgument(WritePrivateFile(sub + "/", "x")));
  EXPECT_TRUE(std::filesystem::is_empty(sub));
}

TEST(WritePrivateFileTest, AMissingDirectoryIsAnErrorNamingThePath) {
  test::TempDir dir;
  const std::string path = dir.path() + "/no/such/dir/file";
  absl::Status status = WritePrivateFile(path, "x");
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_NE(status.message().find(path), std::string::npos) << status;
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(CreatePrivateFileTest, WritesAPrivateFileAndRefusesAnExistingOne) {
  test::TempDir dir;
  ScopedUmask scoped(022);
  const std::string path = dir.path() + "/signer.key";
  ASSERT_TRUE(CreatePrivateFile(path, "first").ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  absl::Status again = CreatePrivateFile(path, "second");
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_NE(again.message().find(path), std::string::npos) << again;
  EXPECT_EQ(*ReadFile(path), "first");
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"signer.key"});
}

// Another writer makes the file after the existence check, before this one
// puts its own in place: this one fails and the other's file stands (a
// check-then-rename would replace it).
TEST(CreatePrivateFileTest, AFileMadeAfterTheCheckIsNeverReplaced) {
  test::TempDir dir;
  const std::string path = dir.path() + "/signer.key";
  absl::Status status = CreatePrivateFile(path, "mine", [&path] {
    ASSERT_TRUE(CreatePrivateFile(path, "the other writer's").ok());
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_EQ(*ReadFile(path), "the other writer's");
  // No temporary file left beside it.
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"signer.key"});
}

}  // namespace
}  // namespace ycr
