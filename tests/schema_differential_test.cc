// dipgate's schema validation (RapidJSON over the converted spec) against an
// independent one: the DIP sandbox's (Python jsonschema over the YAML as
// published, tools/dip_standin/dip_spec.py). Every field of the public
// IF-033 sample is broken in several ways; both must agree, case by case,
// on valid or not. A converter bug (a dropped $ref, a lost pattern, nullable
// mistranslated) shows here as a disagreement.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <functional>
#include <sstream>

#include "common/dip/schema.h"
#include "tests/fixtures.h"

namespace dipgate {
namespace {

using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::WriteFile;


struct Case {
  std::string name;  // pointer and what was done
  std::string body;  // a message array
};

// Applies `mutate` to a fresh copy of `sample` at each leaf and object.
void Mutations(const rapidjson::Value& node, const std::string& path, const std::string& sample,
               std::vector<Case>* out) {
  auto variant = [&](const std::string& what, const std::function<void(rapidjson::Value&,
                                                                        rapidjson::Document&)>& f) {
    rapidjson::Document d;
    d.Parse(sample.c_str());
    rapidjson::Value* target = rapidjson::Pointer(path.c_str()).Get(d);
    if (target == nullptr) return;
    f(*target, d);
    out->push_back({path + " " + what, dip::ToJson(d)});
  };
  if (node.IsObject()) {
    variant("+extra", [](rapidjson::Value& v, rapidjson::Document& d) {
      v.AddMember("Zz", 1, d.GetAllocator());
    });
    for (const auto& m : node.GetObject()) {
      std::string child = path + "/" + m.name.GetString();
      variant("-" + std::string(m.name.GetString()), [&](rapidjson::Value& v, rapidjson::Document&) {
        v.RemoveMember(m.name.GetString());
      });
      Mutations(m.value, child, sample, out);
    }
    return;
  }
  if (node.IsArray()) return;
  variant("=\"\"", [](rapidjson::Value& v, rapidjson::Document&) { v.SetString(""); });
  variant("=7", [](rapidjson::Value& v, rapidjson::Document&) { v.SetInt(7); });
  variant("=null", [](rapidjson::Value& v, rapidjson::Document&) { v.SetNull(); });
  variant("=long", [](rapidjson::Value& v, rapidjson::Document& d) {
    std::string s(300, '9');
    v.SetString(s.c_str(), d.GetAllocator());
  });
  if (node.IsString()) {
    variant("+x", [](rapidjson::Value& v, rapidjson::Document& d) {
      std::string s = std::string(v.GetString()) + "x";
      v.SetString(s.c_str(), d.GetAllocator());
    });
    variant("digits", [](rapidjson::Value& v, rapidjson::Document& d) {
      std::string s(v.GetStringLength(), '1');
      v.SetString(s.c_str(), d.GetAllocator());
    });
  }
}

TEST(SchemaDifferential, DipgateAndTheSandboxAgreeOnEveryBrokenField) {
  std::string sample = ReadFile(Runfile("tests/data/if-033-appointment-request.json"));
  rapidjson::Document d;
  d.Parse(sample.c_str());
  sample = dip::ToJson(d);  // one line
  std::vector<Case> cases = {{"the sample", sample}};
  Mutations(d[0]["payload"], "/0/payload", sample, &cases);
  ASSERT_GT(cases.size(), 200u);

  std::string dir = testing::NewTempDir("differential");
  std::string lines;
  for (const Case& c : cases) lines += c.body + "\n";
  WriteFile(dir + "/cases.jsonl", lines);
  // The sandbox's validator, one verdict line per case: "valid" or the
  // first error.
  std::string script =
      "import json, sys\n"
      "sys.path.insert(0, sys.argv[1])\n"
      "import dip_spec\n"
      "spec = dip_spec.Spec(sys.argv[2])\n"
      "for line in open(sys.argv[3]):\n"
      "    body = json.loads(line)\n"
      "    errs = spec.message_errors(body[0], 0)\n"
      "    print('invalid ' + errs[0] if errs else 'valid')\n";
  WriteFile(dir + "/verdicts.py", script);
  auto py = RunCommand("/usr/bin/python3 " + dir + "/verdicts.py " +
                       testing::ShellQuote(Runfile("tools/dip_standin")) + " " +
                       testing::ShellQuote(Runfile("third_party/dip_api")) + " " + dir +
                       "/cases.jsonl");
  ASSERT_EQ(py.exit_code, 0) << py.output.substr(0, 2000);
  std::vector<std::string> verdicts;
  std::istringstream in(py.output);
  for (std::string line; std::getline(in, line);) verdicts.push_back(line);
  ASSERT_EQ(verdicts.size(), cases.size()) << py.output.substr(0, 2000);

  auto schemas = dip::SchemaSet::Load(Runfile("third_party/dip_api/schemas"));
  ASSERT_TRUE(schemas.ok()) << schemas.error().detail;
  dip::ParseOptions lenient;
  lenient.allow_bare_payload = true;
  int valid = 0, invalid = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    auto a = dip::MessageArray::Parse(cases[i].body, lenient);
    bool ours;
    std::string why;
    if (!a) {
      ours = false;
      why = a.error().detail;
    } else {
      dip::SchemaVerdict v = (*schemas)->Validate(*a);
      ours = v.ok();
      why = v.detail;
    }
    bool theirs = verdicts[i] == "valid";
    EXPECT_EQ(ours, theirs) << cases[i].name << "\n  dipgate: " << (ours ? "valid" : why)
                            << "\n  sandbox: " << verdicts[i];
    (ours ? valid : invalid)++;
  }
  EXPECT_GT(valid, 10);   // nullable and optional fields: some breakages are allowed
  EXPECT_GT(invalid, 150);
  std::cout << cases.size() << " cases: " << valid << " valid, " << invalid << " invalid\n";
}

}  // namespace
}  // namespace dipgate
