// The ament package around the node, checked without a ROS 2 installation:
// - package.xml with catkin_pkg, the parser colcon and bloom use (Debian's python3-catkin-pkg);
// - CMakeLists.txt configured and installed by CMake against stand-in ament / rosidl packages that check what
//   they are given (interface files exist, dependencies were found), then the install tree inspected;
// - the launch files compile, and runtime.launch.py builds its description against stand-in launch modules
//   (its remappings must name the node's default topics, or they would rename nothing);
// - the parameter file is the one the schema generates.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parameterFileYaml, rosParameterSpecs } from "../../../src/transports/ros2/parameters.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "vla-ros2-pkg-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function has(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

/** Debian's python3 (catkin_pkg is installed for it, not for other interpreters on PATH). */
const systemPython = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const catkinMissing = (() => {
  try {
    execFileSync(systemPython, ["-c", "import catkin_pkg"], { stdio: "pipe" });
    return null;
  } catch {
    return "python3-catkin-pkg is not installed (apt-get install python3-catkin-pkg)";
  }
})();

describe.skipIf(catkinMissing !== null)(`package.xml${catkinMissing ? ` (skipped: ${catkinMissing})` : ""}`, () => {
  it("parses and validates as a format 3 ament_cmake interface package", () => {
    const script = [
      "import json, sys",
      "from catkin_pkg.package import parse_package",
      "p = parse_package(sys.argv[1])",
      "p.validate()",
      "print(json.dumps({'name': p.name, 'format': p.package_format, 'build_type': p.get_build_type(),",
      "  'groups': [g.name for g in p.member_of_groups], 'buildtool': [d.name for d in p.buildtool_depends],",
      "  'exec': [d.name for d in p.exec_depends], 'build': [d.name for d in p.build_depends]}))",
    ].join("\n");
    const info = JSON.parse(execFileSync(systemPython, ["-c", script, join(root, "package.xml")], { encoding: "utf8" }));
    expect(info).toMatchObject({ name: "vla_runtime", format: 3, build_type: "ament_cmake", groups: ["rosidl_interface_packages"] });
    expect(info.buildtool).toEqual(expect.arrayContaining(["ament_cmake", "rosidl_default_generators", "nodejs"]));
    // Every package whose interfaces the node uses at run time is an exec dependency.
    for (const pkg of ["sensor_msgs", "geometry_msgs", "trajectory_msgs", "diagnostic_msgs", "std_srvs", "std_msgs", "builtin_interfaces", "rosidl_default_runtime"]) {
      expect(info.exec, pkg).toContain(pkg);
    }
  });

  it("is rejected by the same parser when broken (the check can fail)", () => {
    const broken = readFileSync(join(root, "package.xml"), "utf8").replace(/<maintainer[^]*?<\/maintainer>/, "");
    const path = join(tmp, "package.xml");
    writeFileSync(path, broken);
    expect(() => execFileSync(systemPython, ["-c", "import sys\nfrom catkin_pkg.package import parse_package\nparse_package(sys.argv[1]).validate()", path], { stdio: "pipe" })).toThrow();
  });
});

const cmakeMissing = has("cmake") && has("cc") && has("c++") ? null : "cmake or a C/C++ compiler is missing (apt-get install cmake g++)";

describe.skipIf(cmakeMissing !== null)(`CMakeLists.txt${cmakeMissing ? ` (skipped: ${cmakeMissing})` : ""}`, () => {
  it("configures against stand-in ament packages and installs the node, launch, config and assets", () => {
    const stubs = join(tmp, "stubs");
    const record = join(tmp, "rosidl_interfaces.txt");
    const stub = (name: string, body: string) => {
      mkdirSync(join(stubs, name), { recursive: true });
      writeFileSync(join(stubs, name, `${name}Config.cmake`), body);
    };
    stub("ament_cmake", "set(ament_cmake_FOUND TRUE)\nmacro(ament_package)\n  set(VLA_AMENT_PACKAGE_CALLED TRUE)\nendmacro()\nfunction(ament_export_dependencies)\nendfunction()\n");
    stub("builtin_interfaces", "set(builtin_interfaces_FOUND TRUE)\n");
    stub("std_msgs", "set(std_msgs_FOUND TRUE)\n");
    stub(
      "rosidl_default_generators",
      [
        "function(rosidl_generate_interfaces target)",
        "  cmake_parse_arguments(ARG \"\" \"\" \"DEPENDENCIES\" ${ARGN})",
        "  foreach(f ${ARG_UNPARSED_ARGUMENTS})",
        "    if(NOT EXISTS \"${CMAKE_CURRENT_SOURCE_DIR}/${f}\")",
        "      message(FATAL_ERROR \"rosidl_generate_interfaces: ${f} does not exist\")",
        "    endif()",
        "  endforeach()",
        "  foreach(d ${ARG_DEPENDENCIES})",
        "    if(NOT ${d}_FOUND)",
        "      message(FATAL_ERROR \"rosidl_generate_interfaces: dependency ${d} was not found with find_package\")",
        "    endif()",
        "  endforeach()",
        `  file(WRITE "${record}" "${"$"}{target};${"$"}{ARG_UNPARSED_ARGUMENTS}")`,
        "endfunction()",
        "",
      ].join("\n"),
    );
    const build = join(tmp, "build");
    const install = join(tmp, "install");
    execFileSync("cmake", ["-S", root, "-B", build, `-DCMAKE_PREFIX_PATH=${stubs}`, "-DVLA_RUNTIME_BUILD_JS=OFF"], { stdio: "pipe" });
    execFileSync("cmake", ["--install", build, "--prefix", install], { stdio: "pipe" });

    const [target, ...files] = readFileSync(record, "utf8").split(";");
    expect(target).toBe("vla_runtime");
    const onDisk = [...readdirSync(join(root, "msg")).map((f) => `msg/${f}`), ...readdirSync(join(root, "srv")).map((f) => `srv/${f}`)].filter((f) => /\.(msg|srv)$/.test(f));
    expect(files.sort()).toEqual(onDisk.sort());

    const executable = join(install, "lib", "vla_runtime", "runtime");
    expect(statSync(executable).mode & 0o111).not.toBe(0);
    for (const f of ["launch/runtime.launch.py", "config/runtime.yaml", "sim/arm/description.json"]) expect(existsSync(join(install, "share", "vla_runtime", f)), f).toBe(true);
  });
});

const pythonMissing = has("python3") ? null : "python3 is missing";

describe.skipIf(pythonMissing !== null)(`launch files${pythonMissing ? ` (skipped: ${pythonMissing})` : ""}`, () => {
  it("compile", () => {
    for (const file of readdirSync(join(root, "launch")).filter((f) => f.endsWith(".py"))) {
      execFileSync("python3", ["-m", "py_compile", join(root, "launch", file)], { stdio: "pipe", env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1", PYTHONPYCACHEPREFIX: join(tmp, "pycache") } });
    }
  });

  it("runtime.launch.py: arguments, the node, its parameters file and remappings of the node's default topics", () => {
    // Minimal stand-ins for launch / launch_ros that record what the file constructs.
    const fake = join(tmp, "fake_launch");
    const write = (path: string, text: string) => (mkdirSync(join(fake, path, ".."), { recursive: true }), writeFileSync(join(fake, path), text));
    const recorder = "class _R:\n    def __init__(self, *args, **kwargs):\n        self.args = args\n        self.kwargs = kwargs\n";
    write("launch/__init__.py", `${recorder}\nclass LaunchDescription(_R):\n    pass\n`);
    write("launch/actions/__init__.py", `from launch import _R\nclass DeclareLaunchArgument(_R):\n    pass\n`);
    write("launch/substitutions/__init__.py", `from launch import _R\nclass LaunchConfiguration(_R):\n    pass\nclass PathJoinSubstitution(_R):\n    pass\n`);
    write("launch_ros/__init__.py", "");
    write("launch_ros/actions/__init__.py", `from launch import _R\nclass Node(_R):\n    pass\n`);
    write("launch_ros/parameter_descriptions/__init__.py", `from launch import _R\nclass ParameterValue(_R):\n    pass\n`);
    write("launch_ros/substitutions/__init__.py", `from launch import _R\nclass FindPackageShare(_R):\n    pass\n`);
    const script = [
      "import importlib.util, json, sys",
      "spec = importlib.util.spec_from_file_location('runtime_launch', sys.argv[1])",
      "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)",
      "ld = m.generate_launch_description()",
      "entities = ld.args[0]",
      "def text(x):",
      "    if isinstance(x, str): return x",
      "    if type(x).__name__ == 'LaunchConfiguration': return '$(' + x.args[0] + ')'",
      "    if type(x).__name__ == 'FindPackageShare': return 'share(' + x.args[0] + ')'",
      "    if type(x).__name__ == 'PathJoinSubstitution': return '/'.join(text(p) for p in x.args[0])",
      "    if type(x).__name__ == 'ParameterValue': return {'value': text(x.args[0]), 'type': x.kwargs['value_type'].__name__}",
      "    if isinstance(x, dict): return {k: text(v) for k, v in x.items()}",
      "    if isinstance(x, (list, tuple)): return [text(v) for v in x]",
      "    return repr(x)",
      "args = {e.args[0]: text(e.kwargs['default_value']) for e in entities if type(e).__name__ == 'DeclareLaunchArgument'}",
      "nodes = [e.kwargs for e in entities if type(e).__name__ == 'Node']",
      "print(json.dumps({'args': args, 'nodes': [{k: text(v) for k, v in n.items()} for n in nodes]}))",
    ].join("\n");
    const out = JSON.parse(execFileSync("python3", ["-c", script, join(root, "launch", "runtime.launch.py")], { encoding: "utf8", env: { ...process.env, PYTHONPATH: fake, PYTHONDONTWRITEBYTECODE: "1" } }));
    expect(out.args).toMatchObject({ params_file: "share(vla_runtime)/config/runtime.yaml", namespace: "", node_name: "vla_runtime", auto_activate: "false" });
    expect(out.nodes).toHaveLength(1);
    const node = out.nodes[0];
    expect(node).toMatchObject({ package: "vla_runtime", executable: "runtime", name: "$(node_name)", namespace: "$(namespace)" });
    expect(node.parameters[0]).toBe("$(params_file)");
    expect(node.parameters[1]).toEqual({ "ros2.auto_activate": { value: "$(auto_activate)", type: "bool" }, use_sim_time: { value: "$(use_sim_time)", type: "bool" } });
    // A remapping only renames something if its source is the topic the node uses by default.
    const defaults = new Map(rosParameterSpecs().map((s) => [s.rosName, s.defaultValue]));
    const remapped = (node.remappings as [string, string][]).map(([from]) => from);
    expect(remapped).toEqual([defaults.get("ros2.joint_states_topic"), defaults.get("ros2.trajectory_topic"), defaults.get("ros2.forward_topic")]);
    for (const [, to] of node.remappings as [string, string][]) expect(Object.keys(out.args)).toContain(to.slice(2, -1));
  });
});

describe("parameter file", () => {
  it("config/runtime.yaml is what the schema generates (regenerate with UPDATE_ROS2_FILES=1)", () => {
    const path = join(root, "config", "runtime.yaml");
    if (process.env.UPDATE_ROS2_FILES === "1") writeFileSync(path, parameterFileYaml());
    expect(readFileSync(path, "utf8")).toBe(parameterFileYaml());
  });
});
