#!/usr/bin/env node
// Executable entry of the ROS 2 node: `ros2 run vla_runtime runtime [--ros-args ...]` runs this (bin/runtime).
import { runRos2Node } from "./main.js";

try {
  await runRos2Node({ argv: process.argv.slice(2) });
} catch (error) {
  console.error(`vla_runtime: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`);
  process.exitCode = 1;
}
