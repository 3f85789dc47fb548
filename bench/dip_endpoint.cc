// A stand-in for the DIP's ingress in the bridge benchmark: answers every
// POST 201 with a StandardResponse (MSG0000 and a transactionID for each
// message of the DIPMessageArray) after a fixed latency, the way a call to
// the DIP from a participant's data centre costs tens of milliseconds.
// Plain HTTP on loopback: bench/bridge_bench.sh puts nginx in front for
// mutual TLS and HTTP/2. Not a test and not the sandbox: it checks nothing
// and must never be the bottleneck (requests wait suspended, no thread each).
//
//   dip_endpoint PORT LATENCY_MS
#include <microhttpd.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/canonical.h"
#include "common/dip/message.h"
#include "common/dip/response.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Pending {
  std::string body;
  std::string answer;
  bool waiting = false;  // suspended until its latency has passed
};

// Resumes suspended connections when their time comes.
class Timer {
 public:
  void At(Clock::time_point when, MHD_Connection* c) {
    std::lock_guard<std::mutex> lock(mu_);
    due_.emplace(when, c);
    cv_.notify_one();
  }
  void Run(const std::atomic<bool>& stop) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop.load()) {
      if (due_.empty()) {
        cv_.wait_for(lock, std::chrono::milliseconds(100));
        continue;
      }
      auto next = due_.begin()->first;
      if (Clock::now() < next) {
        cv_.wait_until(lock, next);
        continue;
      }
      MHD_Connection* c = due_.begin()->second;
      due_.erase(due_.begin());
      MHD_resume_connection(c);
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, MHD_Connection*> due_;
};

Timer g_timer;
std::chrono::milliseconds g_latency{0};
std::atomic<uint64_t> g_transactions{0};

std::string Answer(const std::string& body) {
  dipgate::dip::StandardResponse response;
  response.timestamp = dipgate::dip::BodyTimestamp(dipgate::WallClockMillis());
  auto array = dipgate::dip::MessageArray::Parse(body);
  if (!array) return "{\"messageArray\":[],\"timestamp\":null}";
  for (const auto& m : array->messages()) {
    dipgate::dip::Envelope e = m.envelope;
    e.transaction_id = "BENCH" + std::to_string(++g_transactions);
    response.entries.push_back(dipgate::dip::EntryFor(e, "MSG0000", "0000000000"));
  }
  return dipgate::dip::ToJson(response);
}

MHD_Result Handle(void*, MHD_Connection* c, const char*, const char* method, const char*,
                  const char* upload, size_t* upload_size, void** state) {
  auto* p = static_cast<Pending*>(*state);
  if (p == nullptr) {
    *state = p = new Pending();
    return MHD_YES;
  }
  if (*upload_size > 0) {
    p->body.append(upload, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  if (!p->waiting && g_latency.count() > 0) {
    p->answer = Answer(p->body);
    p->waiting = true;
    MHD_suspend_connection(c);
    g_timer.At(Clock::now() + g_latency, c);
    return MHD_YES;
  }
  if (!p->waiting) p->answer = Answer(p->body);
  (void)method;
  MHD_Response* r = MHD_create_response_from_buffer(p->answer.size(), p->answer.data(),
                                                    MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(r, "Content-Type", "application/json");
  MHD_Result rc = MHD_queue_response(c, 201, r);
  MHD_destroy_response(r);
  return rc;
}

void Done(void*, MHD_Connection*, void** state, MHD_RequestTerminationCode) {
  delete static_cast<Pending*>(*state);
  *state = nullptr;
}

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: dip_endpoint PORT LATENCY_MS\n");
    return 2;
  }
  g_latency = std::chrono::milliseconds(atol(argv[2]));
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  MHD_Daemon* d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME,
      static_cast<uint16_t>(atoi(argv[1])), nullptr, nullptr, &Handle, nullptr,
      MHD_OPTION_NOTIFY_COMPLETED, &Done, nullptr, MHD_OPTION_CONNECTION_LIMIT, 4096U,
      MHD_OPTION_CONNECTION_TIMEOUT, 120U, MHD_OPTION_END);
  if (d == nullptr) {
    fprintf(stderr, "dip_endpoint: cannot listen on %s\n", argv[1]);
    return 1;
  }
  std::thread timer([] { g_timer.Run(g_stop); });
  while (!g_stop.load()) pause();
  timer.join();
  MHD_stop_daemon(d);
  return 0;
}
