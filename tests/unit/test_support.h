// What the storage unit tests share: readable outcomes and a temp dir.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

#include "common/sqs_error.h"

namespace wharf::testing {

// "ok" or the error's code name and message.
template <typename T>
std::string outcome(const Result<T>& r) {
  return r.ok() ? std::string("ok") : std::string(error_name(r.error().code)) + ": " + r.error().message;
}

template <typename T>
std::string code_of(const Result<T>& r) {
  return r.ok() ? std::string("ok") : std::string(error_name(r.error().code));
}

inline std::string code_name(ErrorCode code) { return std::string(error_name(code)); }

// A fresh directory, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "wharf-unit-test-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace wharf::testing
