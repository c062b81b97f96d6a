// A small ignition-transport 11 peer for the gz transport tests and the benchmark. It uses only the real
// library (Node, Advertise, PublishRaw, SubscribeRaw) and the real message classes, so whatever it prints
// is what the reference implementation sent or received.
//
// Every mode prints "READY" once it has advertised / subscribed, then one JSON object per line.
//
//   sub  <topic[,topic...]> <msgType> <count> <timeoutMs>
//        Raw-subscribe with an exact type name (e.g. ignition.msgs.Double or gz.msgs.Double); print each
//        message decoded with the ignition message classes. Exit after <count> messages in total or the timeout.
//   pub  <kind> <topic> <msgType> <rateHz> <durationMs> [key=value ...]
//        kind: double | model | wrench | contacts. Publish the same content, re-stamped, at a fixed rate.
//          double:   value=<x>
//          model:    name=<model> joints=<a,b,..> positions=<..> velocities=<..> efforts=<..>
//          wrench:   wrench=<fx,fy,fz,tx,ty,tz>
//          contacts: contacts=<collision,fx,fy,fz,depth;...>  (collision names may be scoped: a::b::c)
//   echo <inTopic> <outTopic> <msgType> <durationMs>
//        Republish every message of <inTopic> unchanged on <outTopic>.
//   ping <outTopic> <inTopic> <msgType> <rateHz> <durationMs> <connectTimeoutMs>
//        Publish Double messages carrying a sequence number, receive them back through an echo peer and
//        print delivered/lost counts and round-trip quantiles (us).
#include <ignition/msgs/actuators.pb.h>
#include <ignition/msgs/contacts.pb.h>
#include <ignition/msgs/double.pb.h>
#include <ignition/msgs/model.pb.h>
#include <ignition/msgs/wrench.pb.h>
#include <ignition/transport/Node.hh>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace msgs = ignition::msgs;
namespace transport = ignition::transport;
using Clock = std::chrono::steady_clock;

static std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

static std::vector<double> numbers(const std::string &s) {
  std::vector<double> out;
  for (const auto &p : split(s, ',')) if (!p.empty()) out.push_back(std::stod(p));
  return out;
}

static std::map<std::string, std::string> keyValues(int argc, char **argv, int from) {
  std::map<std::string, std::string> kv;
  for (int i = from; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (eq != std::string::npos) kv[a.substr(0, eq)] = a.substr(eq + 1);
  }
  return kv;
}

static void ready() {
  std::printf("READY\n");
  std::fflush(stdout);
}

static std::string jsonNumber(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

static std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') { out += '\\'; out += c; }
    else if (static_cast<unsigned char>(c) < 0x20) { char b[8]; std::snprintf(b, sizeof(b), "\\u%04x", c); out += b; }
    else out += c;
  }
  return out + "\"";
}

// Decode with the real message classes; the type name only picks the class (both flavours share the bytes).
static std::string describe(const std::string &data, const std::string &type) {
  auto endsWith = [&](const std::string &suffix) {
    return type.size() >= suffix.size() && type.compare(type.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::string body = "\"type\":" + jsonString(type) + ",\"bytes\":" + std::to_string(data.size());
  if (endsWith(".Double")) {
    msgs::Double m;
    if (!m.ParseFromString(data)) return body + ",\"parseError\":true";
    body += ",\"data\":" + jsonNumber(m.data());
    if (m.has_header()) body += ",\"stampSec\":" + std::to_string(m.header().stamp().sec()) + ",\"stampNsec\":" + std::to_string(m.header().stamp().nsec());
  } else if (endsWith(".Model")) {
    msgs::Model m;
    if (!m.ParseFromString(data)) return body + ",\"parseError\":true";
    body += ",\"name\":" + jsonString(m.name()) + ",\"joints\":[";
    for (int i = 0; i < m.joint_size(); ++i) {
      const auto &j = m.joint(i);
      if (i) body += ",";
      body += "{\"name\":" + jsonString(j.name()) + ",\"position\":" + jsonNumber(j.axis1().position()) +
              ",\"velocity\":" + jsonNumber(j.axis1().velocity()) + ",\"force\":" + jsonNumber(j.axis1().force()) + "}";
    }
    body += "]";
  } else if (endsWith(".Actuators")) {
    msgs::Actuators m;
    if (!m.ParseFromString(data)) return body + ",\"parseError\":true";
    body += ",\"position\":[";
    for (int i = 0; i < m.position_size(); ++i) body += (i ? "," : "") + jsonNumber(m.position(i));
    body += "]";
  } else if (endsWith(".Wrench")) {
    msgs::Wrench m;
    if (!m.ParseFromString(data)) return body + ",\"parseError\":true";
    body += ",\"force\":[" + jsonNumber(m.force().x()) + "," + jsonNumber(m.force().y()) + "," + jsonNumber(m.force().z()) + "]";
    body += ",\"torque\":[" + jsonNumber(m.torque().x()) + "," + jsonNumber(m.torque().y()) + "," + jsonNumber(m.torque().z()) + "]";
  }
  return body;
}

static int runSub(int argc, char **argv) {
  if (argc < 6) { std::fprintf(stderr, "usage: sub <topic[,topic...]> <msgType> <count> <timeoutMs>\n"); return 2; }
  const std::string topics = argv[2], type = argv[3];
  const int count = std::atoi(argv[4]);
  const int timeoutMs = std::atoi(argv[5]);
  std::atomic<int> received{0};
  std::mutex printMutex;
  transport::Node node;
  auto cb = [&](const char *data, const size_t size, const transport::MessageInfo &info) {
    std::lock_guard<std::mutex> lock(printMutex);
    std::string line = "{\"topic\":" + jsonString(info.Topic()) + "," + describe(std::string(data, size), info.Type()) + "}";
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    ++received;
  };
  for (const auto &topic : split(topics, ',')) {
    if (!node.SubscribeRaw(topic, cb, type)) { std::fprintf(stderr, "subscribe failed for %s\n", topic.c_str()); return 1; }
  }
  ready();
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  while (received.load() < count && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::lock_guard<std::mutex> lock(printMutex);
  std::printf("{\"done\":true,\"received\":%d}\n", received.load());
  std::fflush(stdout);
  return 0;
}

static void stamp(msgs::Header *header, Clock::time_point t0) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  header->mutable_stamp()->set_sec(ns / 1000000000);
  header->mutable_stamp()->set_nsec(static_cast<int>(ns % 1000000000));
}

static int runPub(int argc, char **argv) {
  if (argc < 7) { std::fprintf(stderr, "usage: pub <kind> <topic> <msgType> <rateHz> <durationMs> [key=value ...]\n"); return 2; }
  const std::string kind = argv[2], topic = argv[3], type = argv[4];
  const double rateHz = std::atof(argv[5]);
  const int durationMs = std::atoi(argv[6]);
  auto kv = keyValues(argc, argv, 7);
  transport::Node node;
  auto pub = node.Advertise(topic, type);
  if (!pub) { std::fprintf(stderr, "advertise failed for %s\n", topic.c_str()); return 1; }
  ready();
  const auto t0 = Clock::now();
  const auto period = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / rateHz));
  auto next = t0;
  int sent = 0;
  while (Clock::now() - t0 < std::chrono::milliseconds(durationMs)) {
    std::string bytes;
    if (kind == "double") {
      msgs::Double m;
      stamp(m.mutable_header(), t0);
      m.set_data(std::stod(kv["value"]));
      m.SerializeToString(&bytes);
    } else if (kind == "model") {
      msgs::Model m;
      stamp(m.mutable_header(), t0);
      m.set_name(kv["name"]);
      auto names = split(kv["joints"], ',');
      auto pos = numbers(kv["positions"]), vel = numbers(kv["velocities"]), eff = numbers(kv["efforts"]);
      for (size_t i = 0; i < names.size(); ++i) {
        auto *j = m.add_joint();
        j->set_name(names[i]);
        j->set_id(static_cast<unsigned>(10 + i));
        if (i < pos.size()) j->mutable_axis1()->set_position(pos[i]);
        if (i < vel.size()) j->mutable_axis1()->set_velocity(vel[i]);
        if (i < eff.size()) j->mutable_axis1()->set_force(eff[i]);
        j->mutable_axis1()->mutable_xyz()->set_z(1.0);
      }
      m.SerializeToString(&bytes);
    } else if (kind == "wrench") {
      msgs::Wrench m;
      stamp(m.mutable_header(), t0);
      auto w = numbers(kv["wrench"]);
      w.resize(6, 0.0);
      m.mutable_force()->set_x(w[0]); m.mutable_force()->set_y(w[1]); m.mutable_force()->set_z(w[2]);
      m.mutable_torque()->set_x(w[3]); m.mutable_torque()->set_y(w[4]); m.mutable_torque()->set_z(w[5]);
      m.SerializeToString(&bytes);
    } else if (kind == "contacts") {
      msgs::Contacts m;
      stamp(m.mutable_header(), t0);
      for (const auto &entry : split(kv["contacts"], ';')) {
        auto f = split(entry, ',');
        if (f.size() < 5) continue;
        auto *c = m.add_contact();
        c->mutable_collision1()->set_name(f[0]);
        c->mutable_collision2()->set_name("wipe_surface::link::collision");
        auto *p = c->add_position(); p->set_x(0.4); p->set_y(0.0); p->set_z(0.08);
        auto *n = c->add_normal(); n->set_z(1.0);
        c->add_depth(std::stod(f[4]));
        auto *w = c->add_wrench();
        w->set_body_1_name(f[0]);
        w->mutable_body_1_wrench()->mutable_force()->set_x(std::stod(f[1]));
        w->mutable_body_1_wrench()->mutable_force()->set_y(std::stod(f[2]));
        w->mutable_body_1_wrench()->mutable_force()->set_z(std::stod(f[3]));
      }
      m.SerializeToString(&bytes);
    } else {
      std::fprintf(stderr, "unknown kind %s\n", kind.c_str());
      return 2;
    }
    pub.PublishRaw(bytes, type);
    ++sent;
    next += period;
    std::this_thread::sleep_until(next);
  }
  std::printf("{\"done\":true,\"sent\":%d}\n", sent);
  std::fflush(stdout);
  return 0;
}

static int runEcho(int argc, char **argv) {
  if (argc < 6) { std::fprintf(stderr, "usage: echo <inTopic> <outTopic> <msgType> <durationMs>\n"); return 2; }
  const std::string inTopic = argv[2], outTopic = argv[3], type = argv[4];
  const int durationMs = std::atoi(argv[5]);
  transport::Node node;
  auto pub = node.Advertise(outTopic, type);
  if (!pub) { std::fprintf(stderr, "advertise failed for %s\n", outTopic.c_str()); return 1; }
  std::atomic<int> echoed{0};
  auto cb = [&](const char *data, const size_t size, const transport::MessageInfo &info) {
    pub.PublishRaw(std::string(data, size), info.Type());
    ++echoed;
  };
  if (!node.SubscribeRaw(inTopic, cb, type)) { std::fprintf(stderr, "subscribe failed for %s\n", inTopic.c_str()); return 1; }
  ready();
  std::this_thread::sleep_for(std::chrono::milliseconds(durationMs));
  std::printf("{\"done\":true,\"echoed\":%d}\n", echoed.load());
  std::fflush(stdout);
  return 0;
}

static double quantile(std::vector<double> sorted, double q) {
  if (sorted.empty()) return -1;
  std::sort(sorted.begin(), sorted.end());
  const double pos = q * (sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

static int runPing(int argc, char **argv) {
  if (argc < 8) { std::fprintf(stderr, "usage: ping <outTopic> <inTopic> <msgType> <rateHz> <durationMs> <connectTimeoutMs>\n"); return 2; }
  const std::string outTopic = argv[2], inTopic = argv[3], type = argv[4];
  const double rateHz = std::atof(argv[5]);
  const int durationMs = std::atoi(argv[6]);
  const int connectTimeoutMs = std::atoi(argv[7]);
  transport::Node node;
  auto pub = node.Advertise(outTopic, type);
  std::mutex mutex;
  std::map<int64_t, Clock::time_point> sentAt;
  std::vector<double> rttUs;
  int64_t received = 0, unknown = 0;
  auto cb = [&](const char *data, const size_t size, const transport::MessageInfo &) {
    const auto now = Clock::now();
    msgs::Double m;
    if (!m.ParseFromArray(data, static_cast<int>(size))) return;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = sentAt.find(static_cast<int64_t>(m.data()));
    if (it == sentAt.end()) { ++unknown; return; }
    rttUs.push_back(std::chrono::duration<double, std::micro>(now - it->second).count());
    sentAt.erase(it);
    ++received;
  };
  node.SubscribeRaw(inTopic, cb, type);
  ready();
  // Warm up: send probes (negative sequence numbers) until one comes back, so the measurement starts connected.
  const auto connectDeadline = Clock::now() + std::chrono::milliseconds(connectTimeoutMs);
  bool connected = false;
  for (int64_t probe = -1; Clock::now() < connectDeadline; --probe) {
    msgs::Double m;
    m.set_data(static_cast<double>(probe));
    {
      std::lock_guard<std::mutex> lock(mutex);
      sentAt[probe] = Clock::now();
    }
    pub.Publish(m);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard<std::mutex> lock(mutex);
    if (received > 0) { connected = true; break; }
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    sentAt.clear();
    rttUs.clear();
    received = 0;
    unknown = 0;
  }
  if (!connected) {
    std::printf("{\"done\":true,\"connected\":false}\n");
    return 0;
  }
  const auto t0 = Clock::now();
  const auto period = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / rateHz));
  auto next = t0;
  int64_t sent = 0;
  while (Clock::now() - t0 < std::chrono::milliseconds(durationMs)) {
    msgs::Double m;
    m.set_data(static_cast<double>(sent));
    {
      std::lock_guard<std::mutex> lock(mutex);
      sentAt[sent] = Clock::now();
    }
    pub.Publish(m);
    ++sent;
    next += period;
    std::this_thread::sleep_until(next);
  }
  const double elapsedS = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the last echoes arrive
  std::lock_guard<std::mutex> lock(mutex);
  std::printf("{\"done\":true,\"connected\":true,\"sent\":%lld,\"received\":%lld,\"lost\":%lld,\"elapsedS\":%s,"
              "\"p50Us\":%s,\"p99Us\":%s,\"maxUs\":%s}\n",
              static_cast<long long>(sent), static_cast<long long>(received), static_cast<long long>(sent - received),
              jsonNumber(elapsedS).c_str(), jsonNumber(quantile(rttUs, 0.5)).c_str(),
              jsonNumber(quantile(rttUs, 0.99)).c_str(), jsonNumber(quantile(rttUs, 1.0)).c_str());
  std::fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) { std::fprintf(stderr, "usage: gz_peer sub|pub|echo|ping ...\n"); return 2; }
  const std::string mode = argv[1];
  try {
    if (mode == "sub") return runSub(argc, argv);
    if (mode == "pub") return runPub(argc, argv);
    if (mode == "echo") return runEcho(argc, argv);
    if (mode == "ping") return runPing(argc, argv);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "gz_peer: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
