#pragma once

// A plain HTTP GET through libcurl, for tests that scrape the metrics
// endpoint.

#include <curl/curl.h>

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace ycr::testing {

struct HttpReply {
  long code = 0;
  std::string content_type;
  std::string body;
  // The response's header lines, as received.
  std::string headers;
};

inline size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

inline HttpReply Get(const std::string& url) {
  HttpReply reply;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  const CURLcode rc = curl_easy_perform(curl);
  EXPECT_EQ(rc, CURLE_OK) << curl_easy_strerror(rc);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.code);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  if (type != nullptr) reply.content_type = type;
  curl_easy_cleanup(curl);
  return reply;
}

// `body` has the exact line `line`.
inline bool HasLine(const std::string& body, const std::string& line) {
  return absl::StartsWith(body, line + "\n") ||
         absl::StrContains(body, "\n" + line + "\n");
}

}  // namespace ycr::testing
