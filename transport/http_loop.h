// Many HTTPS requests in flight on one thread: libcurl's multi interface
// driven by an event loop (curl's docs/examples/multi-app.c and
// http2-download.c). HTTP/2 streams are multiplexed over a few pooled mTLS
// connections (a new request waits for a stream on an open connection
// rather than opening another: CURLOPT_PIPEWAIT); a peer without HTTP/2
// gets a pool of HTTP/1.1 keep-alive connections, one request on each at a
// time. Used by the Kafka bridge; dipctl's one-shot calls use Perform().
//
// Threads: Post() from any thread; `done` runs on the loop's thread and
// must not block (hand the reply to your own thread).
#ifndef DIPGATE_TRANSPORT_HTTP_LOOP_H_
#define DIPGATE_TRANSPORT_HTTP_LOOP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/wake_pipe.h"
#include "transport/https.h"

namespace dipgate::transport {

struct LoopOptions {
  TlsSettings tls;
  // Connections per host at most: HTTP/2 multiplexes on few, HTTP/1.1 needs
  // one per request in flight.
  long max_host_connections = 64;
  // Hosts the requests go to: idle connections are kept for each, up to
  // max_host_connections.
  long hosts = 1;
  size_t max_answer = 4096;  // bytes of each answer kept
};

struct Request {
  std::string url;
  std::string body;  // POSTed
  HeaderList headers;
};

class HttpLoop {
 public:
  using Done = std::function<void(Reply)>;

  // Starts the loop's thread. internal_error when libcurl cannot make a
  // multi handle.
  static Result<std::unique_ptr<HttpLoop>> Start(LoopOptions options);
  // Stops the thread; requests still in flight are abandoned and their
  // `done` is not called.
  ~HttpLoop();
  HttpLoop(const HttpLoop&) = delete;
  HttpLoop& operator=(const HttpLoop&) = delete;

  // Queues a POST; `done` gets the answer or the transport error.
  void Post(Request request, Done done);

  // New TLS settings (certificate renewal): requests posted from now on use
  // new connections made with them; requests in flight finish on theirs.
  void Reconfigure(TlsSettings tls);

  // Requests posted and not yet answered.
  int64_t active() const { return active_.load(); }
  // Connections opened so far (reused ones counted once).
  int64_t connections_opened() const { return connections_.load(); }
  // HTTP/2 was asked for and the server answered over HTTP/1.1 (it offers
  // no HTTP/2, or refused it with HTTP_1_1_REQUIRED, as a server does that
  // asks for the client certificate by TLS 1.2 renegotiation): from then on
  // requests go over HTTP/1.1, on a pool of keep-alive connections, and no
  // longer try HTTP/2 first. 1 once that happened.
  int64_t http1_fallbacks() const { return http1_fallbacks_.load(); }

 private:
  struct Transfer;
  struct Pool;
  explicit HttpLoop(LoopOptions options);
  static Result<std::unique_ptr<Pool>> NewPool(const LoopOptions& options, TlsSettings tls);
  void Run();
  void Add(Pool& pool, Request request, Done done);
  // Into the multi handle, or answered with the error if libcurl refuses.
  void Start(Pool& pool, std::unique_ptr<Transfer> t);
  void Reap(Pool& pool);
  // The HTTP version and headers of a transfer (Expect only over HTTP/1.1).
  static void SetVersion(Transfer& t, const TlsOptions& o, bool http2);
  // The transfer again, over HTTP/1.1 (an HTTP/2 403 before HTTP/2 worked).
  void Resend(Pool& pool, std::unique_ptr<Transfer> t);

  LoopOptions options_;
  std::mutex mu_;  // guards queued_, next_tls_, stop_
  std::vector<std::pair<Request, Done>> queued_;
  std::unique_ptr<TlsSettings> next_tls_;
  bool stop_ = false;
  // Loop thread only. pools_.back() takes new requests; older ones (made
  // before a Reconfigure) drain and close.
  std::vector<std::unique_ptr<Pool>> pools_;
  std::atomic<int64_t> active_{0}, connections_{0}, http1_fallbacks_{0};
  std::unique_ptr<WakePipe> wake_;  // Post() notifies it: the loop's poll returns
  std::thread thread_;  // last: started after everything above exists
};

}  // namespace dipgate::transport

#endif  // DIPGATE_TRANSPORT_HTTP_LOOP_H_
