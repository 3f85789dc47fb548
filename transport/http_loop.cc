#include "transport/http_loop.h"

#include <algorithm>

namespace dipgate::transport {

// One request: the easy handle and everything it points into, which must
// outlive the handle's time in the multi (the body, the header list, the
// error buffer).
struct HttpLoop::Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  Request request;
  Done done;
  Reply reply;
  size_t max_answer = 0;
  AnswerSink sink;  // CollectAnswer() writes reply.body through it
  bool learns_protocol = false;  // HTTP/2 asked: its answer says what the server speaks
  char error[CURL_ERROR_SIZE] = {0};
  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }
};

// A multi handle (its connection cache) and the transfers in it, all made
// with one set of TLS settings, and easy handles kept for reuse (set up
// once: the TLS options and the callbacks; a request sets only its own).
// The transfers and the idle handles go before the multi.
struct HttpLoop::Pool {
  CURLM* multi = nullptr;
  TlsSettings tls;
  // What the server answered with so far. HTTP/2 asked and HTTP/1.1
  // answered: pinned to HTTP/1.1. "Expect: 100-continue" is for HTTP/1.1
  // (a server asking for the certificate after the handshake cannot do so
  // under HTTP/2, which forbids renegotiation and post-handshake auth; such
  // a server refuses HTTP/2 with HTTP_1_1_REQUIRED, and with a large body
  // on the way it may answer 403 instead) and costs a full expect timeout
  // with some HTTP/2 servers (nginx sends no 100 Continue there): once
  // HTTP/2 answered, large bodies go over it without Expect; before that
  // is known, a large body goes over HTTP/1.1 with Expect, and does not
  // decide the protocol.
  enum class Protocol { kUnknown, kHttp2, kHttp1 } protocol = Protocol::kUnknown;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> transfers;
  std::vector<CURL*> idle;
  ~Pool() {
    for (auto& [easy, t] : transfers) curl_multi_remove_handle(multi, easy);
    transfers.clear();
    for (CURL* easy : idle) curl_easy_cleanup(easy);
    if (multi != nullptr) curl_multi_cleanup(multi);
  }
};

namespace {

constexpr size_t kMaxIdleHandles = 1024;  // easy handles kept for reuse per pool

}  // namespace

HttpLoop::HttpLoop(LoopOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<HttpLoop::Pool>> HttpLoop::NewPool(const LoopOptions& options,
                                                          TlsSettings tls) {
  auto pool = std::make_unique<Pool>();
  pool->multi = curl_multi_init();
  if (pool->multi == nullptr) return Error{Reason::kInternalError, "curl_multi_init failed"};
  pool->tls = std::move(tls);
  curl_multi_setopt(pool->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(pool->multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
  // Idle connections kept open for reuse (a limit for the whole handle).
  // libcurl's default follows the number of transfers in the multi handle
  // at the moment one ends, so a pool of HTTP/1.1 connections shrank
  // whenever fewer requests were in flight than connections open, and new
  // ones (a TLS handshake each, with the client certificate's signature)
  // were opened when they rose again: measured, 3,762 connections for
  // 20,000 POSTs and 2.5 times the CPU.
  curl_multi_setopt(pool->multi, CURLMOPT_MAXCONNECTS,
                    options.max_host_connections * std::max(1L, options.hosts));
  return pool;
}

Result<std::unique_ptr<HttpLoop>> HttpLoop::Start(LoopOptions options) {
  std::unique_ptr<HttpLoop> loop(new HttpLoop(std::move(options)));
  auto pool = NewPool(loop->options_, loop->options_.tls);
  if (!pool) return pool.error();
  loop->pools_.push_back(std::move(*pool));
  auto wake = WakePipe::Create();
  if (!wake) return Error{wake.error().reason, "HTTP loop: " + wake.error().detail};
  loop->wake_ = std::move(*wake);
  loop->thread_ = std::thread([l = loop.get()] { l->Run(); });
  return loop;
}

HttpLoop::~HttpLoop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  if (wake_) wake_->Notify();
  if (thread_.joinable()) thread_.join();
  pools_.clear();
}

void HttpLoop::Post(Request request, Done done) {
  active_ += 1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued_.emplace_back(std::move(request), std::move(done));
  }
  wake_->Notify();
}

void HttpLoop::Reconfigure(TlsSettings tls) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    next_tls_ = std::make_unique<TlsSettings>(std::move(tls));
  }
  wake_->Notify();
}

void HttpLoop::Add(Pool& pool, Request request, Done done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  t->max_answer = options_.max_answer;
  if (!pool.idle.empty()) {
    t->easy = pool.idle.back();
    pool.idle.pop_back();
  } else {
    t->easy = curl_easy_init();
    if (t->easy == nullptr) {
      t->reply.transport_error = true;
      t->reply.error = "curl_easy_init failed";
      active_ -= 1;
      t->done(std::move(t->reply));
      return;
    }
    ApplyTls(t->easy, pool.tls);
    curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, CollectAnswer);
    curl_easy_setopt(t->easy, CURLOPT_PIPEWAIT, 1L);  // wait for a stream on an open connection
  }
  CURL* h = t->easy;
  const TlsOptions& o = pool.tls.options;
  bool large = WaitsForContinue(o, t->request.body.size());
  bool http2 = o.http2 && (pool.protocol == Pool::Protocol::kHttp2 ||
                           (pool.protocol == Pool::Protocol::kUnknown && !large));
  t->learns_protocol = o.http2 && pool.protocol == Pool::Protocol::kUnknown && http2;
  SetVersion(*t, o, http2);
  curl_easy_setopt(h, CURLOPT_URL, t->request.url.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->request.body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->request.body.size()));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->error);
  t->sink = {&t->reply.body, t->max_answer};
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t->sink);
  Start(pool, std::move(t));
}

void HttpLoop::Start(Pool& pool, std::unique_ptr<Transfer> t) {
  CURL* h = t->easy;
  CURLMcode rc = curl_multi_add_handle(pool.multi, h);
  if (rc != CURLM_OK) {
    t->reply.transport_error = true;
    t->reply.error = std::string("curl_multi_add_handle: ") + curl_multi_strerror(rc);
    active_ -= 1;
    t->done(std::move(t->reply));
    return;  // the transfer's destructor frees the handle
  }
  pool.transfers.emplace(h, std::move(t));
}

void HttpLoop::SetVersion(Transfer& t, const TlsOptions& o, bool http2) {
  curl_easy_setopt(t.easy, CURLOPT_HTTP_VERSION,
                   http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
  curl_slist_free_all(t.headers);
  t.headers = RequestHeaders(http2 ? "Expect:" : ExpectHeader(o, t.request.body.size()),
                             t.request.headers);
  curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, t.headers);
}

void HttpLoop::Resend(Pool& pool, std::unique_ptr<Transfer> t) {
  CURL* h = t->easy;
  curl_multi_remove_handle(pool.multi, h);
  t->reply = Reply{};
  t->error[0] = '\0';
  t->learns_protocol = false;
  SetVersion(*t, pool.tls.options, false);
  Start(pool, std::move(t));
}

void HttpLoop::Reap(Pool& pool) {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(pool.multi, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    auto it = pool.transfers.find(msg->easy_handle);
    if (it == pool.transfers.end()) continue;
    std::unique_ptr<Transfer> t = std::move(it->second);
    pool.transfers.erase(it);
    CURL* h = t->easy;
    Reply& reply = t->reply;
    ReadReply(h, msg->data.result, t->error, &reply);
    if (!reply.transport_error) {
      long version = 0;
      if (t->learns_protocol && pool.protocol == Pool::Protocol::kUnknown &&
          curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &version) == CURLE_OK) {
        if (RefusedOverHttp2(h, reply)) {
          // Before HTTP/2 has worked here: HTTP/1.1 from now on, and this
          // request again over it.
          pool.protocol = Pool::Protocol::kHttp1;
          http1_fallbacks_ = 1;
          Resend(pool, std::move(t));
          continue;
        }
        if (version == CURL_HTTP_VERSION_2_0) {
          pool.protocol = Pool::Protocol::kHttp2;
        } else if (version == CURL_HTTP_VERSION_1_1 || version == CURL_HTTP_VERSION_1_0) {
          pool.protocol = Pool::Protocol::kHttp1;
          http1_fallbacks_ = 1;
        }
      }
    }
    long opened = 0;
    if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK) connections_ += opened;
    curl_multi_remove_handle(pool.multi, h);
    // The handle goes back for the next request, pointing into nothing of
    // this one; the transfer no longer owns it.
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, nullptr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, nullptr);
    t->easy = nullptr;
    if (pool.idle.size() < kMaxIdleHandles) {
      pool.idle.push_back(h);
    } else {
      curl_easy_cleanup(h);
    }
    active_ -= 1;
    t->done(std::move(reply));
  }
}

void HttpLoop::Run() {
  std::vector<std::pair<Request, Done>> incoming;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      incoming.swap(queued_);
      if (next_tls_) {
        auto pool = NewPool(options_, std::move(*next_tls_));
        next_tls_.reset();
        if (pool) {
          (*pool)->protocol = pools_.back()->protocol;  // the same server
          pools_.push_back(std::move(*pool));
        }  // else: keep the old one
      }
    }
    for (auto& [request, done] : incoming) Add(*pools_.back(), std::move(request), std::move(done));
    incoming.clear();
    for (auto& pool : pools_) {
      int running = 0;
      curl_multi_perform(pool->multi, &running);
      Reap(*pool);
    }
    // Pools made before a Reconfigure close once their last request ended.
    pools_.erase(std::remove_if(pools_.begin(), pools_.end() - 1,
                                [](const std::unique_ptr<Pool>& p) { return p->transfers.empty(); }),
                 pools_.end() - 1);
    curl_waitfd wake{wake_->read_fd(), CURL_WAIT_POLLIN, 0};
    // The newest pool is waited on; older ones still draining are
    // performed at least every 10 ms.
    int timeout_ms = pools_.size() > 1 ? 10 : 1000;
    curl_multi_poll(pools_.back()->multi, &wake, 1, timeout_ms, nullptr);
    wake_->Clear();  // before the next turn takes what was queued
  }
}

}  // namespace dipgate::transport
