#include "storage/personal_crypto.h"

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"

namespace ycr::storage {
namespace {

using test::StatusIs;

v1::PersonalData Notes(const std::string& subject, const std::string& text) {
  v1::PersonalData p;
  p.set_subject_id(subject);
  p.set_notes(text);
  p.add_needs("a need");
  return p;
}

TEST(PersonalCryptoTest, SealedPersonalDataOpensToTheSame) {
  std::string key = *NewDataKey();
  v1::PersonalData p = Notes("pupil-1", "cares for mum after school");
  absl::StatusOr<v1::EncryptedPersonal> sealed = SealPersonal(key, "ev-1", p);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->subject_id(), "pupil-1");
  EXPECT_EQ(sealed->key_version(), kDataKeyVersion);
  EXPECT_EQ(sealed->nonce().size(), kNonceBytes);
  EXPECT_EQ(sealed->ciphertext().find("cares for mum"), std::string::npos);
  absl::StatusOr<v1::PersonalData> opened =
      UnsealPersonal(key, "ev-1", *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->SerializeAsString(), p.SerializeAsString());
}

TEST(PersonalCryptoTest, EverySealingTakesAFreshNonce) {
  std::string key = *NewDataKey();
  v1::PersonalData p = Notes("pupil-1", "same text");
  v1::EncryptedPersonal a = *SealPersonal(key, "ev-1", p);
  v1::EncryptedPersonal b = *SealPersonal(key, "ev-1", p);
  EXPECT_NE(a.nonce(), b.nonce());
  EXPECT_NE(a.ciphertext(), b.ciphertext());
}

TEST(PersonalCryptoTest, MovedToAnotherEventDoesNotOpen) {
  std::string key = *NewDataKey();
  v1::EncryptedPersonal sealed =
      *SealPersonal(key, "ev-1", Notes("pupil-1", "text"));
  EXPECT_TRUE(StatusIs(UnsealPersonal(key, "ev-2", sealed).status(),
                       absl::StatusCode::kDataLoss, {"does not authenticate"}));
}

TEST(PersonalCryptoTest, MovedToAnotherSubjectDoesNotOpen) {
  std::string key = *NewDataKey();
  v1::EncryptedPersonal sealed =
      *SealPersonal(key, "ev-1", Notes("pupil-1", "text"));
  sealed.set_subject_id("pupil-2");
  EXPECT_TRUE(StatusIs(UnsealPersonal(key, "ev-1", sealed).status(),
                       absl::StatusCode::kDataLoss));
}

TEST(PersonalCryptoTest, TamperedCiphertextOrTagDoesNotOpen) {
  std::string key = *NewDataKey();
  const v1::EncryptedPersonal sealed =
      *SealPersonal(key, "ev-1", Notes("pupil-1", "text"));
  for (size_t i : {size_t{0}, sealed.ciphertext().size() - 1}) {
    v1::EncryptedPersonal tampered = sealed;
    (*tampered.mutable_ciphertext())[i] ^= 0x01;
    EXPECT_TRUE(StatusIs(UnsealPersonal(key, "ev-1", tampered).status(),
                         absl::StatusCode::kDataLoss))
        << "byte " << i;
  }
  v1::EncryptedPersonal nonce = sealed;
  (*nonce.mutable_nonce())[0] ^= 0x01;
  EXPECT_TRUE(StatusIs(UnsealPersonal(key, "ev-1", nonce).status(),
                       absl::StatusCode::kDataLoss));
}

TEST(PersonalCryptoTest, AnotherKeyDoesNotOpen) {
  v1::EncryptedPersonal sealed =
      *SealPersonal(*NewDataKey(), "ev-1", Notes("pupil-1", "text"));
  EXPECT_TRUE(StatusIs(UnsealPersonal(*NewDataKey(), "ev-1", sealed).status(),
                       absl::StatusCode::kDataLoss));
}

TEST(PersonalCryptoTest, AKeyOfTheWrongSizeIsRefused) {
  EXPECT_TRUE(StatusIs(Seal("short", "aad", "x").status(),
                       absl::StatusCode::kInvalidArgument, {"data key"}));
}

TEST(PersonalCryptoTest, KeyedDigestDependsOnTheKey) {
  std::string a = *NewDataKey();
  EXPECT_EQ(KeyedDigest(a, "text"), KeyedDigest(a, "text"));
  EXPECT_NE(KeyedDigest(a, "text"), KeyedDigest(*NewDataKey(), "text"));
  EXPECT_EQ(KeyedDigest(a, "text").size(), 32u);
}

}  // namespace
}  // namespace ycr::storage
