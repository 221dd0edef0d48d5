#include "storage/personal_crypto.h"

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <string>

#include "absl/strings/escaping.h"
#include "common/ids.h"
#include "common/sha256.h"
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

// KeyedDigest is HMAC-SHA-256: RFC 4231's test cases 1, 2 and 6 (a key
// longer than the block).
TEST(PersonalCryptoTest, KeyedDigestIsHmacSha256) {
  EXPECT_EQ(
      absl::BytesToHexString(KeyedDigest(std::string(20, '\x0b'), "Hi There")),
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(absl::BytesToHexString(
                KeyedDigest("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(absl::BytesToHexString(KeyedDigest(
                std::string(131, '\xaa'),
                "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// The same bytes as OpenSSL's own HMAC() and SHA256(), for keys and inputs
// of every length around the block.
TEST(PersonalCryptoTest, DigestsMatchOpenSsl) {
  for (size_t key_size : {0, 1, 31, 32, 33, 63, 64, 65, 128, 200}) {
    for (size_t data_size : {0, 1, 55, 56, 63, 64, 65, 300}) {
      std::string key(key_size, '\0');
      std::string data(data_size, '\0');
      for (size_t i = 0; i < key_size; ++i) key[i] = static_cast<char>(i * 7);
      for (size_t i = 0; i < data_size; ++i)
        data[i] = static_cast<char>(i * 13);
      unsigned char mac[EVP_MAX_MD_SIZE];
      unsigned int len = 0;
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           mac, &len);
      EXPECT_EQ(KeyedDigest(key, data),
                std::string(reinterpret_cast<char*>(mac), len))
          << key_size << " " << data_size;
      unsigned char want[SHA256_DIGEST_LENGTH];
      unsigned char got[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
             want);
      Sha256Into(data.data(), data.size(), got);
      EXPECT_EQ(std::string(reinterpret_cast<char*>(got), sizeof(got)),
                std::string(reinterpret_cast<char*>(want), sizeof(want)));
    }
  }
}

// A name-based id is SHA-256's first 16 bytes with the version 5 layout.
TEST(PersonalCryptoTest, NameUuidIsSha256Based) {
  EXPECT_EQ(NameUuid("abc"), "ba7816bf-8f01-5fea-8141-40de5dae2223");
}

}  // namespace
}  // namespace ycr::storage
