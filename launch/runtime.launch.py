# Starts the vla_runtime lifecycle node.
#
#   ros2 launch vla_runtime runtime.launch.py
#   ros2 launch vla_runtime runtime.launch.py auto_activate:=true params_file:=/path/to/my_runtime.yaml
#   ros2 launch vla_runtime runtime.launch.py namespace:=arm_left joint_states_topic:=/arm_left/joint_states
#
# Without auto_activate the node waits in "unconfigured": drive it with
#   ros2 lifecycle set /vla_runtime configure && ros2 lifecycle set /vla_runtime activate
# With auto_activate:=true it configures at once and activates as soon as every joint has reported on the
# joint states topic and the policy has loaded.
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

ARGUMENTS = [
    (
        "params_file",
        PathJoinSubstitution([FindPackageShare("vla_runtime"), "config", "runtime.yaml"]),
        "ROS parameter file for the node (every runtime setting; see config/runtime.yaml)",
    ),
    ("namespace", "", "namespace of the node and of its relative topics"),
    ("node_name", "vla_runtime", "name of the node"),
    ("auto_activate", "false", "configure and activate without lifecycle commands"),
    ("use_sim_time", "false", "stamp messages with /clock (Gazebo)"),
    ("log_level", "info", "rcl log level"),
    ("joint_states_topic", "/joint_states", "remap the joint state input"),
    (
        "trajectory_topic",
        "/joint_trajectory_controller/joint_trajectory",
        "remap the JointTrajectory output (ros2.output trajectory)",
    ),
    (
        "forward_topic",
        "/forward_position_controller/commands",
        "remap the Float64MultiArray output (ros2.output forward)",
    ),
]


def generate_launch_description():
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, default, description in ARGUMENTS
    ]
    node = Node(
        package="vla_runtime",
        executable="runtime",
        name=LaunchConfiguration("node_name"),
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        emulate_tty=True,
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "ros2.auto_activate": ParameterValue(LaunchConfiguration("auto_activate"), value_type=bool),
                "use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool),
            },
        ],
        # The topic names are parameters too (ros2.*_topic); remapping renames them without editing the file.
        remappings=[
            ("/joint_states", LaunchConfiguration("joint_states_topic")),
            ("/joint_trajectory_controller/joint_trajectory", LaunchConfiguration("trajectory_topic")),
            ("/forward_position_controller/commands", LaunchConfiguration("forward_topic")),
        ],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
    )
    return LaunchDescription(declared + [node])
