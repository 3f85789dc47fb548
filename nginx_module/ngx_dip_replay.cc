// Replay protection shared by every nginx worker: signatures are
// remembered in a shared memory zone, the nginx way (limit_req_zone): a
// slab pool holding a red-black tree keyed by a hash of the signature and
// a queue in expiry order, under the zone's mutex.
//
// A signature is held while its request is answered and counts as seen
// only once that answer was a success (2xx): after a failure (the
// application's 503, a client gone) it is forgotten, so the DIP's retry of
// the same request is verified again rather than refused as a replay
// (common/verifier.h, ReplayStore).
//
//   http { dip_verify_replay_zone dipreplay:10m; }
//   location /dip/webhook/ { dip_verify_replay dipreplay; }
//
// An entry lives until the signature date plus dip_verify_window: after
// that the date check refuses the signature anyway. A full zone first drops
// expired entries, then the oldest ones; each entry is about 128 bytes, so
// 10 MB holds about 80,000 signatures (at most 5 minutes' worth each).
#include "common/digest.h"
#include "nginx_module/ngx_dip.h"

namespace dipgate::nginx {
namespace {

constexpr size_t kDigest = 32;  // SHA-256 of the signature bytes

// Laid over an ngx_rbtree_node_t from its `color` member on, as
// limit_req_zone does: `color` is the tree's own byte and must stay first.
// The node's key is the digest's first bytes.
struct ReplayNode {
  u_char color;
  ngx_queue_t queue;  // in the shared queue, most recent first
  int64_t expiry_ms;
  int64_t hold_until_ms;  // while not accepted: the hold lapses then
  bool accepted;          // its request was answered with success
  u_char digest[kDigest];
};

struct ReplayShared {
  ngx_rbtree_t rbtree;
  ngx_rbtree_node_t sentinel;
  ngx_queue_t queue;
};

struct ReplayZone {
  ReplayShared* sh;
  ngx_slab_pool_t* shpool;
};

ReplayNode* Data(ngx_rbtree_node_t* node) {
  return reinterpret_cast<ReplayNode*>(reinterpret_cast<u_char*>(node) +
                                       offsetof(ngx_rbtree_node_t, color));
}

ngx_rbtree_node_t* NodeOf(ReplayNode* data) {
  return reinterpret_cast<ngx_rbtree_node_t*>(reinterpret_cast<u_char*>(data) -
                                              offsetof(ngx_rbtree_node_t, color));
}

// Orders by key, then by the whole digest.
void Insert(ngx_rbtree_node_t* temp, ngx_rbtree_node_t* node, ngx_rbtree_node_t* sentinel) {
  ngx_rbtree_node_t** p;
  for (;;) {
    if (node->key != temp->key) {
      p = node->key < temp->key ? &temp->left : &temp->right;
    } else {
      p = ngx_memcmp(Data(node)->digest, Data(temp)->digest, kDigest) < 0 ? &temp->left
                                                                           : &temp->right;
    }
    if (*p == sentinel) break;
    temp = *p;
  }
  *p = node;
  node->parent = temp;
  node->left = sentinel;
  node->right = sentinel;
  ngx_rbt_red(node);
}

// The tree's key: the digest's first bytes.
ngx_rbtree_key_t KeyOf(const u_char* digest) {
  ngx_rbtree_key_t key = 0;
  ngx_memcpy(&key, digest, sizeof(key));
  return key;
}

ngx_rbtree_node_t* Lookup(ReplayShared* sh, ngx_rbtree_key_t key, const u_char* digest) {
  ngx_rbtree_node_t* node = sh->rbtree.root;
  ngx_rbtree_node_t* sentinel = sh->rbtree.sentinel;
  while (node != sentinel) {
    if (key != node->key) {
      node = key < node->key ? node->left : node->right;
      continue;
    }
    int rc = ngx_memcmp(digest, Data(node)->digest, kDigest);
    if (rc == 0) return node;
    node = rc < 0 ? node->left : node->right;
  }
  return nullptr;
}

void Remove(ReplayZone* z, ngx_rbtree_node_t* node) {
  ngx_queue_remove(&Data(node)->queue);
  ngx_rbtree_delete(&z->sh->rbtree, node);
  ngx_slab_free_locked(z->shpool, node);
}

// Drops expired entries from the old end; with `force`, also up to two of
// the oldest live ones (the zone is full).
void Expire(ReplayZone* z, int64_t now, bool force) {
  for (int forced = 0; !ngx_queue_empty(&z->sh->queue);) {
    ngx_queue_t* q = ngx_queue_last(&z->sh->queue);
    auto* data = ngx_queue_data(q, ReplayNode, queue);
    if (data->expiry_ms > now) {
      if (!force || forced++ >= 2) return;
    }
    Remove(z, NodeOf(data));
  }
}

ngx_int_t InitZone(ngx_shm_zone_t* shm_zone, void* data) {
  auto* z = static_cast<ReplayZone*>(shm_zone->data);
  if (data != nullptr) {  // reload: keep the old zone's contents
    auto* old = static_cast<ReplayZone*>(data);
    z->sh = old->sh;
    z->shpool = old->shpool;
    return NGX_OK;
  }
  z->shpool = reinterpret_cast<ngx_slab_pool_t*>(shm_zone->shm.addr);
  if (shm_zone->shm.exists) {
    z->sh = static_cast<ReplayShared*>(z->shpool->data);
    return NGX_OK;
  }
  z->sh = static_cast<ReplayShared*>(ngx_slab_alloc(z->shpool, sizeof(ReplayShared)));
  if (z->sh == nullptr) return NGX_ERROR;
  z->shpool->data = z->sh;
  ngx_rbtree_init(&z->sh->rbtree, &z->sh->sentinel, Insert);
  ngx_queue_init(&z->sh->queue);
  static const char kContext[] = " in dip_verify_replay_zone \"\"";
  size_t len = sizeof(kContext) + shm_zone->shm.name.len;
  z->shpool->log_ctx = static_cast<u_char*>(ngx_slab_alloc(z->shpool, len));
  if (z->shpool->log_ctx == nullptr) return NGX_ERROR;
  ngx_sprintf(z->shpool->log_ctx, " in dip_verify_replay_zone \"%V\"%Z", &shm_zone->shm.name);
  z->shpool->log_nomem = 0;  // a full zone is handled, not an alert
  return NGX_OK;
}

}  // namespace

class ShmReplayStore : public ReplayStore {
 public:
  explicit ShmReplayStore(ngx_shm_zone_t* zone) : zone_(zone) {}

  Result<ReplayState> Hold(std::string_view signature, UnixMillis hold_until, UnixMillis expiry,
                           UnixMillis now) override {
    Sha256 digest = Sha256Of(signature);
    const u_char* d = digest.data();
    ngx_rbtree_key_t key = KeyOf(d);
    auto* z = static_cast<ReplayZone*>(zone_->data);
    ngx_shmtx_lock(&z->shpool->mutex);
    Expire(z, now, false);
    ngx_rbtree_node_t* found = Lookup(z->sh, key, d);
    if (found != nullptr) {
      ReplayNode* data = Data(found);
      ReplayState state = data->accepted                 ? ReplayState::kAccepted
                          : data->hold_until_ms > now    ? ReplayState::kHeld
                                                         : ReplayState::kNew;
      if (state == ReplayState::kNew) data->hold_until_ms = hold_until;  // a lapsed hold
      ngx_shmtx_unlock(&z->shpool->mutex);
      return state;
    }
    size_t size = offsetof(ngx_rbtree_node_t, color) + sizeof(ReplayNode);
    auto* node = static_cast<ngx_rbtree_node_t*>(ngx_slab_alloc_locked(z->shpool, size));
    if (node == nullptr) {
      Expire(z, now, true);
      node = static_cast<ngx_rbtree_node_t*>(ngx_slab_alloc_locked(z->shpool, size));
    }
    if (node == nullptr) {
      ngx_shmtx_unlock(&z->shpool->mutex);
      return Error{Reason::kInternalError,
                   "dip_verify_replay_zone \"" + ToStd(zone_->shm.name) + "\" is full"};
    }
    node->key = key;
    ReplayNode* data = Data(node);
    ngx_memcpy(data->digest, d, kDigest);
    data->expiry_ms = expiry;
    data->hold_until_ms = hold_until;
    data->accepted = false;
    ngx_rbtree_insert(&z->sh->rbtree, node);
    ngx_queue_insert_head(&z->sh->queue, &data->queue);
    ngx_shmtx_unlock(&z->shpool->mutex);
    return ReplayState::kNew;
  }

  void Settle(std::string_view signature, bool accepted) override {
    Sha256 digest = Sha256Of(signature);
    const u_char* d = digest.data();
    ngx_rbtree_key_t key = KeyOf(d);
    auto* z = static_cast<ReplayZone*>(zone_->data);
    ngx_shmtx_lock(&z->shpool->mutex);
    if (ngx_rbtree_node_t* found = Lookup(z->sh, key, d)) {
      if (accepted) {
        Data(found)->accepted = true;
      } else {
        Remove(z, found);
      }
    }
    ngx_shmtx_unlock(&z->shpool->mutex);
  }

 private:
  ngx_shm_zone_t* zone_;
};

ReplayStore* ReplayStoreFor(ngx_pool_t* pool, ngx_shm_zone_t* zone) {
  return PoolOwned<ShmReplayStore>(pool, zone);
}

// dip_verify_replay_zone NAME:SIZE;
char* SetReplayZone(ngx_conf_t* cf, ngx_command_t* /*cmd*/, void* /*conf*/) {
  ngx_shm_zone_t* zone =
      AddZone(cf, "dipreplay:10m", 8 * ngx_pagesize, InitZone, sizeof(ReplayZone));
  return zone == nullptr ? static_cast<char*>(NGX_CONF_ERROR) : NGX_CONF_OK;
}

// dip_verify_replay on | off | ZONE;  (on: per worker, as before zones)
char* SetReplay(ngx_conf_t* cf, ngx_command_t* /*cmd*/, void* conf) {
  auto* lcf = static_cast<LocConf*>(conf);
  if (lcf->replay != NGX_CONF_UNSET) return const_cast<char*>("is duplicate");
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);
  ngx_str_t value = args[1];
  if (value.len == 3 && ngx_strncmp(value.data, "off", 3) == 0) {
    lcf->replay = 0;
    return NGX_CONF_OK;
  }
  lcf->replay = 1;
  if (value.len == 2 && ngx_strncmp(value.data, "on", 2) == 0) {
    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "\"dip_verify_replay on\" remembers signatures per worker: a replay that "
                       "reaches another worker passes; use \"dip_verify_replay_zone\" and "
                       "\"dip_verify_replay ZONE\"");
    return NGX_CONF_OK;
  }
  // A zone declared anywhere in the http block (size 0: by reference).
  lcf->replay_zone = ngx_shared_memory_add(cf, &value, 0, &ngx_http_dip_module);
  return lcf->replay_zone == nullptr ? static_cast<char*>(NGX_CONF_ERROR) : NGX_CONF_OK;
}

// A zone named by dip_verify_replay but never declared has no size.
ngx_int_t CheckReplayZone(ngx_conf_t* cf, ngx_shm_zone_t* zone) {
  if (zone != nullptr && zone->shm.size == 0) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"dip_verify_replay %V\": no \"dip_verify_replay_zone %V:SIZE\" declares "
                       "it",
                       &zone->shm.name, &zone->shm.name);
    return NGX_ERROR;
  }
  return NGX_OK;
}

}  // namespace dipgate::nginx
