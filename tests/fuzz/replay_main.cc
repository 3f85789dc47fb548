// Runs a fuzz target over every file of its seed and regression corpus, so
// the corpus is a regression test in the ordinary (gcc) build:
//   <target>_replay CORPUS_DIR...
#include <dirent.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "tests/fixtures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::string g_corpus;

TEST(FuzzCorpus, EveryInputRunsCleanly) {
  DIR* d = opendir(g_corpus.c_str());
  ASSERT_NE(d, nullptr) << g_corpus;
  int files = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string data = dipgate::testing::ReadFile(g_corpus + "/" + e->d_name);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    ++files;
  }
  closedir(d);
  EXPECT_GT(files, 0);
  std::cout << files << " inputs from " << g_corpus << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) g_corpus = dipgate::testing::Runfile(argv[1]);
  return RUN_ALL_TESTS();
}
