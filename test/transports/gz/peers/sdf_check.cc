// Loads an SDF world with libsdformat (the parser gz-sim itself uses) and prints what it understood as one
// JSON object: load errors, world plugins, and for every model its links (mass, inertia, pose in the model
// frame), joints (type, parent/child, axis in the model frame, limits, dynamics, sensors) and plugins.
//
//   sdf_check <file.sdf>
#include <sdf/sdf.hh>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>

static std::string q(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') { out += '\\'; out += c; }
    else if (c == '\n') out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out + "\"";
}

static std::string n(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.12g", v);
  return buf;
}

static std::string vec(const ignition::math::Vector3d &v) {
  return "[" + n(v.X()) + "," + n(v.Y()) + "," + n(v.Z()) + "]";
}

static std::string plugins(const sdf::ElementPtr &parent) {
  std::string out = "[";
  bool first = true;
  if (parent->HasElement("plugin")) {
    for (auto e = parent->GetElement("plugin"); e; e = e->GetNextElement("plugin")) {
      if (!first) out += ",";
      first = false;
      std::string children = "{";
      bool firstChild = true;
      for (auto c = e->GetFirstElement(); c; c = c->GetNextElement()) {
        if (!firstChild) children += ",";
        firstChild = false;
        children += q(c->GetName()) + ":" + q(c->GetValue() ? c->GetValue()->GetAsString() : "");
      }
      children += "}";
      out += "{\"filename\":" + q(e->GetAttribute("filename")->GetAsString()) + ",\"name\":" + q(e->GetAttribute("name")->GetAsString()) +
             ",\"elements\":" + children + "}";
    }
  }
  return out + "]";
}

static std::string sensorJson(const sdf::Sensor *s) {
  std::string out = "{\"name\":" + q(s->Name()) + ",\"type\":" + q(s->TypeStr()) + ",\"topic\":" + q(s->Topic()) +
                    ",\"updateRate\":" + n(s->UpdateRate());
  if (auto ft = s->ForceTorqueSensor()) {
    out += ",\"frame\":" + std::to_string(static_cast<int>(ft->Frame())) + ",\"measureDirection\":" + std::to_string(static_cast<int>(ft->MeasureDirection()));
  }
  auto elem = s->Element();
  if (elem && elem->HasElement("contact")) {
    auto contact = elem->GetElement("contact");
    out += ",\"collisions\":[";
    bool first = true;
    for (auto c = contact->GetElement("collision"); c; c = c->GetNextElement("collision")) {
      if (!first) out += ",";
      first = false;
      out += q(c->Get<std::string>());
    }
    out += "],\"contactTopic\":" + q(contact->Get<std::string>("topic"));
  }
  return out + "}";
}

int main(int argc, char **argv) {
  if (argc < 2) { std::fprintf(stderr, "usage: sdf_check <file.sdf>\n"); return 2; }
  sdf::Root root;
  sdf::Errors errors = root.Load(argv[1]);
  std::string out = "{\"errors\":[";
  for (size_t i = 0; i < errors.size(); ++i) {
    std::ostringstream ss;
    ss << errors[i];
    out += (i ? "," : "") + q(ss.str());
  }
  out += "],\"worlds\":[";
  for (uint64_t w = 0; w < root.WorldCount(); ++w) {
    const sdf::World *world = root.WorldByIndex(w);
    if (w) out += ",";
    out += "{\"name\":" + q(world->Name()) + ",\"plugins\":" + plugins(world->Element()) + ",\"models\":[";
    for (uint64_t m = 0; m < world->ModelCount(); ++m) {
      const sdf::Model *model = world->ModelByIndex(m);
      if (m) out += ",";
      out += "{\"name\":" + q(model->Name()) + ",\"static\":" + (model->Static() ? "true" : "false") + ",\"plugins\":" + plugins(model->Element()) + ",\"links\":[";
      for (uint64_t l = 0; l < model->LinkCount(); ++l) {
        const sdf::Link *link = model->LinkByIndex(l);
        ignition::math::Pose3d pose;
        auto poseErrors = link->SemanticPose().Resolve(pose, "__model__");
        const auto &inertial = link->Inertial();
        const auto &moi = inertial.MassMatrix().Moi();
        if (l) out += ",";
        out += "{\"name\":" + q(link->Name()) + ",\"mass\":" + n(inertial.MassMatrix().Mass()) +
               ",\"inertiaValid\":" + (inertial.MassMatrix().IsValid() ? "true" : "false") +
               ",\"moi\":[" + n(moi(0, 0)) + "," + n(moi(0, 1)) + "," + n(moi(0, 2)) + "," + n(moi(1, 1)) + "," + n(moi(1, 2)) + "," + n(moi(2, 2)) + "]" +
               ",\"position\":" + vec(pose.Pos()) + ",\"rotation\":[" + n(pose.Rot().W()) + "," + n(pose.Rot().X()) + "," + n(pose.Rot().Y()) + "," + n(pose.Rot().Z()) + "]" +
               ",\"poseErrors\":" + std::to_string(poseErrors.size()) + ",\"collisions\":[";
        for (uint64_t c = 0; c < link->CollisionCount(); ++c) out += (c ? "," : "") + q(link->CollisionByIndex(c)->Name());
        out += "],\"sensors\":[";
        for (uint64_t s = 0; s < link->SensorCount(); ++s) out += (s ? "," : "") + sensorJson(link->SensorByIndex(s));
        out += "]}";
      }
      out += "],\"joints\":[";
      for (uint64_t j = 0; j < model->JointCount(); ++j) {
        const sdf::Joint *joint = model->JointByIndex(j);
        if (j) out += ",";
        out += "{\"name\":" + q(joint->Name()) + ",\"type\":" + std::to_string(static_cast<int>(joint->Type())) +
               ",\"parent\":" + q(joint->ParentLinkName()) + ",\"child\":" + q(joint->ChildLinkName());
        if (const sdf::JointAxis *axis = joint->Axis(0)) {
          ignition::math::Vector3d xyz;
          auto axisErrors = axis->ResolveXyz(xyz, "__model__");
          out += ",\"axisModel\":" + vec(xyz) + ",\"axisErrors\":" + std::to_string(axisErrors.size()) + ",\"lower\":" + n(axis->Lower()) + ",\"upper\":" + n(axis->Upper()) +
                 ",\"effort\":" + n(axis->Effort()) + ",\"velocity\":" + n(axis->MaxVelocity()) + ",\"damping\":" + n(axis->Damping()) +
                 ",\"springStiffness\":" + n(axis->SpringStiffness());
        }
        out += ",\"sensors\":[";
        for (uint64_t s = 0; s < joint->SensorCount(); ++s) out += (s ? "," : "") + sensorJson(joint->SensorByIndex(s));
        out += "]}";
      }
      out += "]}";
    }
    out += "]}";
  }
  out += "]}";
  std::printf("%s\n", out.c_str());
  return errors.empty() ? 0 : 1;
}
