#include "common/files.h"

#include <gtest/gtest.h>
#include <string.h>

#include <fstream>
#include <string>

#include "tests/fixtures.h"

namespace dipgate {
namespace {

std::string Write(const std::string& dir, const std::string& name, const std::string& content) {
  std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(Files, ReadsTheWholeFileByteForByte) {
  std::string dir = testing::NewTempDir("files");
  std::string content("line one\r\nline two\n\0binary\xff", 28);
  auto data = ReadWholeFile(Write(dir, "f.bin", content));
  ASSERT_TRUE(data.ok()) << data.error().detail;
  EXPECT_EQ(*data, content);

  auto empty = ReadWholeFile(Write(dir, "empty", ""));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");

  std::string big(200 * 1024 + 7, 'x');  // more than one read() of the loop
  auto large = ReadWholeFile(Write(dir, "large", big));
  ASSERT_TRUE(large.ok());
  EXPECT_EQ(*large, big);
}

TEST(Files, FirstLineStopsAtEitherLineEnding) {
  std::string dir = testing::NewTempDir("files");
  EXPECT_EQ(*ReadFirstLine(Write(dir, "crlf", "s3cret\r\nrest\n")), "s3cret");
  EXPECT_EQ(*ReadFirstLine(Write(dir, "lf", "key\nrest")), "key");
  EXPECT_EQ(*ReadFirstLine(Write(dir, "none", "no newline")), "no newline");
  EXPECT_EQ(*ReadFirstLine(Write(dir, "blank", "\nsecond")), "");
}

TEST(Files, AMissingFileIsNamedWithTheReason) {
  std::string missing = testing::NewTempDir("files") + "/no-such.pem";
  auto data = ReadWholeFile(missing);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.reason(), Reason::kInternalError);
  EXPECT_EQ(data.error().detail,
            "cannot read " + missing + ": " + std::string(strerror(ENOENT)));
  auto line = ReadFirstLine(missing);
  ASSERT_FALSE(line.ok());
  EXPECT_EQ(line.error().detail, data.error().detail);
}

TEST(Files, ADirectoryIsNotAFile) {
  std::string dir = testing::NewTempDir("files");
  auto data = ReadWholeFile(dir);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.error().detail, "cannot read " + dir + ": " + std::string(strerror(EISDIR)));
}

TEST(Files, APathThroughAFileSaysNotADirectory) {
  std::string file = Write(testing::NewTempDir("files"), "plain", "x");
  auto data = ReadWholeFile(file + "/child");
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.error().detail,
            "cannot read " + file + "/child: " + std::string(strerror(ENOTDIR)));
}

}  // namespace
}  // namespace dipgate
