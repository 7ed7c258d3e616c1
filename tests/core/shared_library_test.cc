// core/shared_library: a library opened at first use; a missing library names itself, what needs it and its Debian
// package; a function is bound with the type the caller states; a missing function is an error naming it. libcurl
// and libpcap, loaded this way, answer through their tables.
#include "core/shared_library.h"

#include <gtest/gtest.h>

#include <cstring>

#include "sentinel/pcap_api.h"
#include "store/curl_api.h"

namespace mitmscope {
namespace {

TEST(SharedLibrary, AMissingLibraryNamesItWhatNeedsItAndItsPackage) {
  const auto library = SharedLibrary::open("libmitmscope-absent.so.9", "mitmscope-absent0", "a test of absence");
  ASSERT_FALSE(library);
  EXPECT_EQ(library.error().code, ErrorCode::kFileNotFound);
  EXPECT_NE(library.error().message.find("a test of absence needs libmitmscope-absent.so.9"), std::string::npos);
  EXPECT_NE(library.error().message.find("apt-get install mitmscope-absent0"), std::string::npos);
}

TEST(SharedLibrary, BindsAFunctionWithTheTypeTheCallerStates) {
  const auto library = SharedLibrary::open("libc.so.6", "libc6", "a test");
  ASSERT_TRUE(library) << library.error().message;
  decltype(&::strlen) length = nullptr;
  ASSERT_TRUE(library->bind("strlen", length));
  EXPECT_EQ(length("interception"), 12u);
}

TEST(SharedLibrary, AMissingFunctionIsAnErrorNamingItAndTheLibrary) {
  const auto library = SharedLibrary::open("libc.so.6", "libc6", "a test");
  ASSERT_TRUE(library);
  decltype(&::strlen) slot = nullptr;
  const auto bound = library->bind("mitmscope_no_such_function", slot);
  ASSERT_FALSE(bound);
  EXPECT_EQ(slot, nullptr);
  EXPECT_NE(bound.error().message.find("libc.so.6 has no function mitmscope_no_such_function"), std::string::npos);
}

TEST(SharedLibrary, AllBoundIsTheFirstFailure) {
  const auto library = SharedLibrary::open("libc.so.6", "libc6", "a test");
  ASSERT_TRUE(library);
  decltype(&::strlen) length = nullptr;
  decltype(&::strnlen) bounded_length = nullptr;
  decltype(&::strlen) absent = nullptr;
  EXPECT_TRUE(SharedLibrary::all_bound({library->bind("strlen", length), library->bind("strnlen", bounded_length)}));
  EXPECT_EQ(bounded_length("interception", 5), 5u);
  const auto bound = SharedLibrary::all_bound(
      {library->bind("strlen", length), library->bind("mitmscope_first_absent", absent),
       library->bind("mitmscope_second_absent", absent)});
  ASSERT_FALSE(bound);
  EXPECT_NE(bound.error().message.find("mitmscope_first_absent"), std::string::npos);
  EXPECT_NE(length, nullptr);
}

TEST(SharedLibrary, AddressOfKeepsTheFailure) {
  const Result<int> failed = make_error(ErrorCode::kFileNotFound, "gone");
  const auto pointer = address_of(failed);
  ASSERT_FALSE(pointer);
  EXPECT_EQ(pointer.error().message, "gone");
  const Result<int> loaded = 7;
  EXPECT_EQ(*address_of(loaded).value(), 7);
}

TEST(SharedLibrary, LibcurlLoadsOnceAndAnswers) {
  const auto api = clickhouse::curl_api();
  ASSERT_TRUE(api) << api.error().message;
  EXPECT_EQ(*clickhouse::curl_api(), *api);
  EXPECT_STREQ((*api)->easy_strerror(CURLE_COULDNT_CONNECT), "Couldn't connect to server");
  CURL* handle = (*api)->easy_init();
  ASSERT_NE(handle, nullptr);
  (*api)->easy_cleanup(handle);
}

TEST(SharedLibrary, LibpcapLoadsOnceAndAnswers) {
  const auto api = pcap_api();
  ASSERT_TRUE(api) << api.error().message;
  EXPECT_EQ(*pcap_api(), *api);
  char error[PCAP_ERRBUF_SIZE] = {};
  EXPECT_EQ((*api)->open_offline("/nonexistent/capture.pcap", error), nullptr);
  EXPECT_NE(std::strstr(error, "No such file"), nullptr) << error;
}

}  // namespace
}  // namespace mitmscope
