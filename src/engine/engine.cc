#include "engine/engine.h"

#include <sys/epoll.h>
#include <unistd.h>

namespace mitmscope {

Engine::Engine(const TlsClientContext& context, EngineOptions options)
    : context_(&context), options_(options), epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {}

Engine::~Engine() {
  connections_.clear();   // before the epoll descriptor closes
}

void Engine::submit(ProbeRequest request) {
  if (request.not_before > Clock::now()) {
    const uint64_t sequence = delayed_sequence_++;
    delayed_.push({request.not_before, sequence});
    delayed_requests_.emplace(sequence, std::move(request));
  } else {
    ready_.push(std::move(request));
  }
}

void Engine::watch(TlsConnection& connection, bool add) {
  epoll_event event{};
  event.events = connection.wait() == TlsConnection::Wait::kReadable ? EPOLLIN : EPOLLOUT;
  event.data.fd = connection.fd();
  ::epoll_ctl(epoll_fd_.get(), add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, connection.fd(), &event);
}

bool Engine::try_start(ProbeRequest& request, Clock::time_point& retry_at) {
  // The per-address cap holds whatever the other flags say: no combination of options exceeds it. The intervals
  // run from the moment of this start, read here: the loop's own `now` is older by whatever the loop did before
  // (up to hundreds of starts), and an interval counted from it let two starts to one address come closer than
  // the cap (22 a second under --host-rate 20, seen at the lab's hosts on a loaded CI machine).
  const Clock::time_point now = Clock::now();
  const auto host_interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options_.host_rate > 0 ? 1.0 / options_.host_rate : 0.0));
  auto& host_next = host_next_[request.endpoint.ip];
  if (host_next > now) {
    retry_at = host_next;
    return false;
  }
  if (options_.rate > 0 && global_next_ > now) {
    retry_at = global_next_;
    return false;
  }
  host_next = now + host_interval;
  if (++starts_since_prune_ >= 4096) {  // forget addresses whose interval has passed: memory stays bounded
    starts_since_prune_ = 0;
    std::erase_if(host_next_, [now](const auto& entry) { return entry.second <= now; });
  }
  if (options_.rate > 0) {
    // From this start, as the per-address interval: a late loop does not catch up on the starts it missed (it did,
    // up to one interval, and the wire showed 102 SYNs in a second under --rate 100 on a loaded machine).
    global_next_ = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / options_.rate));
  }
  auto connection = std::make_unique<TlsConnection>(*context_, request.endpoint, std::move(request.sni), request.connection);
  ++started_;
  const auto wait = connection->start();
  const int fd = connection->fd();
  if (wait == TlsConnection::Wait::kDone || fd < 0) {
    // Failed at once (refused locally, no socket): completed without an fd; queue it as finished.
    const int pseudo = -static_cast<int>(started_);
    tokens_[pseudo] = request.token;
    connections_.emplace(pseudo, std::move(connection));
    return true;
  }
  tokens_[fd] = request.token;
  watch(*connection, true);
  connections_.emplace(fd, std::move(connection));
  return true;
}

void Engine::finish(int fd, const Completion& completion) {
  auto node = connections_.extract(fd);
  const uint64_t token = tokens_[fd];
  tokens_.erase(fd);
  if (fd >= 0) ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  // The observation is moved out before the connection (and its socket) is destroyed.
  Observation observation = std::move(node.mapped()->observation());
  node.mapped().reset();
  completion(token, std::move(observation));
}

void Engine::run(const Feed& feed, const Completion& completion) {
  std::vector<epoll_event> events(1024);
  bool feed_exhausted = false;
  while (!stopping_ && !(options_.stop && options_.stop->load())) {
    auto now = Clock::now();
    // Delayed requests whose time has come.
    while (!delayed_.empty() && delayed_.top().when <= now) {
      auto node = delayed_requests_.extract(delayed_.top().sequence);
      delayed_.pop();
      ready_.push(std::move(node.mapped()));
    }
    // Keep enough work queued to fill the free slots.
    while (!feed_exhausted && connections_.size() + ready_.size() < options_.concurrency * 2) {
      const auto result = feed();
      if (result == FeedResult::kExhausted) feed_exhausted = true;
      if (result != FeedResult::kSubmitted) break;
    }
    // Start what the limits allow.
    Clock::time_point wake = now + std::chrono::milliseconds(50);
    size_t attempts = ready_.size();
    while (!ready_.empty() && connections_.size() < options_.concurrency && attempts-- > 0) {
      ProbeRequest request = std::move(ready_.front());
      ready_.pop();
      Clock::time_point retry_at{};
      if (!try_start(request, retry_at)) {
        request.not_before = retry_at;
        submit(std::move(request));
        wake = std::min(wake, retry_at);
        if (options_.rate > 0 && global_next_ > Clock::now()) break;  // the global rate is the limit now
      }
    }
    // Connections that finished at once.
    std::vector<int> immediate;
    for (const auto& [fd, connection] : connections_) {
      if (fd < 0) immediate.push_back(fd);
    }
    for (int fd : immediate) finish(fd, completion);
    if (connections_.empty() && ready_.empty() && delayed_.empty()) {
      if (feed_exhausted) break;
      // Nothing in flight and the feed is waiting: ask again (a host job may have more now).
      if (feed() == FeedResult::kExhausted) feed_exhausted = true;
      continue;
    }
    if (!delayed_.empty()) wake = std::min(wake, delayed_.top().when);
    for (const auto& [fd, connection] : connections_) wake = std::min(wake, connection->deadline());
    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count();
    const int ready_count = ::epoll_wait(epoll_fd_.get(), events.data(), static_cast<int>(events.size()),
                                         static_cast<int>(std::clamp<long>(timeout, 0, 50)) );
    for (int i = 0; i < ready_count; ++i) {
      const int fd = events[i].data.fd;
      auto it = connections_.find(fd);
      if (it == connections_.end()) continue;
      const auto wait = it->second->advance();
      if (wait == TlsConnection::Wait::kDone) {
        finish(fd, completion);
      } else {
        watch(*it->second, false);
      }
    }
    // Deadlines.
    now = Clock::now();
    std::vector<int> expired;
    for (const auto& [fd, connection] : connections_) {
      if (fd >= 0 && connection->deadline() <= now) expired.push_back(fd);
    }
    for (int fd : expired) {
      connections_[fd]->expire();
      finish(fd, completion);
    }
  }
}

}  // namespace mitmscope
