// Signed notes and checkpoints (common/signed_note.h): what a verifier
// accepts and what it refuses.

#include "common/signed_note.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"

namespace ycr::note {
namespace {

const char kOrigin[] = "council.example/ycr/v1";

Signer NewKey(const std::string& name = kOrigin) {
  absl::StatusOr<Signer> signer = NewSigner(name);
  EXPECT_TRUE(signer.ok()) << signer.status();
  return *signer;
}

Verifier VerifierOf(const Signer& signer) {
  absl::StatusOr<Verifier> v = ParseVerifierKey(VerifierKey(signer));
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

TEST(SignedNoteTest, KeysAreWrittenAndReadInTheNoteFormat) {
  const Signer signer = NewKey();
  const std::string vkey = VerifierKey(signer);
  EXPECT_TRUE(absl::StartsWith(vkey, absl::StrCat(kOrigin, "+"))) << vkey;
  // name + 8 hex digits + base64 of 33 bytes (44 characters).
  EXPECT_EQ(vkey.size(), std::string(kOrigin).size() + 1 + 8 + 1 + 44);
  const Verifier verifier = VerifierOf(signer);
  EXPECT_EQ(verifier.key_id, signer.key_id);
  EXPECT_EQ(verifier.public_key, signer.public_key);
  EXPECT_EQ(signer.key_id, KeyId(signer.name, signer.public_key));

  absl::StatusOr<Signer> again = ParseSignerKey(SignerKey(signer));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->seed, signer.seed);
  EXPECT_EQ(again->public_key, signer.public_key);

  // A key whose id does not match its name and key is refused.
  const Signer other = NewKey();
  std::string forged =
      absl::StrCat(kOrigin, "+", vkey.substr(vkey.find('+') + 1, 8), "+",
                   VerifierKey(other).substr(vkey.rfind('+') + 1));
  EXPECT_FALSE(ParseVerifierKey(forged).ok());
  EXPECT_FALSE(ParseVerifierKey("no-plus-signs").ok());
  EXPECT_FALSE(ParseSignerKey(vkey).ok());
  EXPECT_FALSE(NewSigner("has space").ok());
  EXPECT_FALSE(NewSigner("has+plus").ok());
  EXPECT_FALSE(NewSigner("").ok());
}

TEST(SignedNoteTest, ASignedNoteOpensWithItsKeyOnly) {
  const Signer signer = NewKey();
  const std::string text = "council.example/ycr/v1\n12\nAAAA\n";
  absl::StatusOr<std::string> note = Sign(text, signer);
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_TRUE(absl::StrContains(*note, "\n\n\xe2\x80\x94 council.example"));
  absl::StatusOr<std::string> opened = Open(*note, VerifierOf(signer));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, text);

  // Another key of the same name: no signature by it.
  EXPECT_EQ(Open(*note, VerifierOf(NewKey())).status().code(),
            absl::StatusCode::kNotFound);
  // An altered text: the known key's signature fails.
  std::string altered = absl::StrReplaceAll(*note, {{"\n12\n", "\n13\n"}});
  EXPECT_EQ(Open(altered, VerifierOf(signer)).status().code(),
            absl::StatusCode::kPermissionDenied);
  // A second signature by an unknown key is ignored.
  absl::StatusOr<std::string> cosigned = Sign(text, NewKey("witness.example"));
  ASSERT_TRUE(cosigned.ok());
  const std::string both =
      *note + cosigned->substr(cosigned->rfind("\xe2\x80\x94"));
  opened = Open(both, VerifierOf(signer));
  ASSERT_TRUE(opened.ok()) << opened.status() << both;
  EXPECT_EQ(*opened, text);
  // Not notes at all.
  for (const std::string& bad :
       {std::string(""), text, text + "\n", text + "\nnot a signature\n",
        text + "\n\xe2\x80\x94 name !!!\n"}) {
    EXPECT_EQ(Open(bad, VerifierOf(signer)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << absl::CEscape(bad);
  }
  // Texts a note cannot carry.
  EXPECT_FALSE(Sign("no newline", signer).ok());
  EXPECT_FALSE(Sign("a\n\nb\n", signer).ok());
  EXPECT_FALSE(Sign("tab\there\n", signer).ok());
}

TEST(SignedNoteTest, CheckpointsAreWrittenAndReadAsC2spSays) {
  Checkpoint checkpoint;
  checkpoint.origin = kOrigin;
  checkpoint.size = 1234;
  checkpoint.root = tlog::RecordHash("x");
  const std::string text = FormatCheckpoint(checkpoint);
  EXPECT_EQ(
      text,
      absl::StrCat(kOrigin, "\n1234\n",
                   absl::Base64Escape(tlog::HashBytes(tlog::RecordHash("x"))),
                   "\n"));
  absl::StatusOr<Checkpoint> parsed = ParseCheckpoint(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->origin, kOrigin);
  EXPECT_EQ(parsed->size, 1234);
  EXPECT_EQ(parsed->root, checkpoint.root);
  EXPECT_TRUE(parsed->extensions.empty());
  checkpoint.extensions = {"time 1765000000"};
  parsed = ParseCheckpoint(FormatCheckpoint(checkpoint));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->extensions, checkpoint.extensions);
  for (const std::string& bad :
       {std::string("origin\n12\n"), std::string("origin\n012\nAAAA\n"),
        std::string("origin\n-1\nAAAA\n"), std::string("origin\n1\nAAAA\n"),
        std::string("\n1\n") + absl::Base64Escape(std::string(32, 'a')) +
            "\n"}) {
    EXPECT_FALSE(ParseCheckpoint(bad).ok()) << absl::CEscape(bad);
  }
}

}  // namespace
}  // namespace ycr::note
