// The module's `config` file builds it the conventional way: nginx's own
// ./configure --add-dynamic-module and `make modules`, against Debian's
// nginx sources and flags; the result loads into the stock nginx.
#include <gtest/gtest.h>

#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::RunCommand;
using testing::Runfile;
using testing::ShellQuote;

TEST(ConventionalBuild, ConfigureMakeModulesAndLoad) {
  std::string work = testing::NewTempDir("ngxbuild");
  // A checkout-shaped copy: nginx_module/ beside common/ and third_party/.
  std::string d = work + "/dipgate";
  std::string setup = "set -e; mkdir -p " + d + "/nginx_module " + d + "/common/dip " + d +
                      "/third_party/dip_api; cp -L " + Runfile("nginx_module") + "/config " +
                      Runfile("nginx_module") + "/*.cc " + Runfile("nginx_module") + "/*.h " +
                      d + "/nginx_module/; cp -L " + Runfile("common") + "/*.cc " +
                      Runfile("common") + "/*.h " + d + "/common/; cp -L " +
                      Runfile("common/dip") + "/*.cc " + Runfile("common/dip") + "/*.h " + d +
                      "/common/dip/; cp -L " + Runfile("third_party/dip_api") + "/*.yaml " +
                      Runfile("third_party/dip_api") + "/convert.py " + d +
                      "/third_party/dip_api/; cp -rL /usr/share/nginx/src " + work + "/nginx";
  auto r = RunCommand("bash -c " + ShellQuote(setup));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string build = "set -e; cd " + work + "/nginx; source ./conf_flags; "
                      "./configure \"${NGX_CONF_FLAGS[@]}\" --add-dynamic-module=" + work +
                      "/dipgate/nginx_module > configure.log 2>&1 || { tail -20 configure.log; "
                      "exit 1; }; make -j2 -f objs/Makefile modules > make.log 2>&1 || "
                      "{ grep -E 'error|Error' make.log | head -20; exit 1; }";
  r = RunCommand("bash -c " + ShellQuote(build));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string so = work + "/nginx/objs/ngx_http_dip_module.so";
  testing::WriteFile(work + "/nginx.conf",
                     "load_module " + so + ";\nerror_log " + work + "/error.log;\npid " + work +
                         "/nginx.pid;\nevents {}\nhttp {\n  dip_sign_identity a certificate=" +
                         testing::PkiFile("signer-rsa.pem") + " key=" +
                         testing::PkiFile("signer-rsa.key") +
                         ";\n  server { listen 127.0.0.1:1; location / { dip_sign a; "
                         "proxy_pass http://127.0.0.1:2; } }\n}\n");
  r = RunCommand("/usr/sbin/nginx -t -p " + work + " -c " + work + "/nginx.conf");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("test is successful"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace dipgate
