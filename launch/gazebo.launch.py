# Gazebo (gz sim) with the wipe world, the vla_runtime node driving the arm in it, and optionally a ros_gz
# bridge that mirrors the simulation to ROS.
#
#   ros2 launch vla_runtime gazebo.launch.py
#   ros2 launch vla_runtime gazebo.launch.py gui:=false bridge:=false
#   ros2 launch vla_runtime gazebo.launch.py world:=/path/to/my_world.sdf model:=my_arm type_flavour:=ignition
#
# The runtime talks to Gazebo itself, over gz-transport (its "gz" backend): commands go to the
# JointPositionControllers, joint states / wrench / contacts come from the world's systems. The bridge is only
# for ROS observers (RViz, Foxglove, rosbag): /clock, /joint_states and the wrist wrench, from Gazebo to ROS.
# It needs ros_gz_sim and ros_gz_bridge (ros-<distro>-ros-gz); without them, start `gz sim` yourself and
# run the node alone (see sim/gazebo/README.md).
#
# The runtime and Gazebo must share the gz-transport partition (GZ_PARTITION, IGN_PARTITION for Fortress)
# and reach each other (GZ_IP): this file passes the partition to both.
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

SHARE = FindPackageShare("vla_runtime")

ARGUMENTS = [
    ("world", PathJoinSubstitution([SHARE, "sim", "gazebo", "vla_wipe.sdf"]), "SDF world to load (sim/gazebo/vla_wipe_fortress.sdf for Fortress)"),
    ("world_name", "vla_wipe", "the <world name> inside that file"),
    ("model", "vla_arm6", "the arm's <model name> in the world"),
    ("type_flavour", "gz", "gz for Garden / Harmonic and later, ignition for Fortress"),
    ("command_mode", "joint-position", "joint-position (one Double per joint) or actuators (one Actuators message; Harmonic)"),
    ("partition", EnvironmentVariable("GZ_PARTITION", default_value="vla_runtime"), "gz-transport partition shared by Gazebo and the runtime"),
    ("gui", "true", "start the Gazebo GUI as well as the server"),
    ("bridge", "true", "mirror /clock, /joint_states and the wrist wrench to ROS with ros_gz_bridge"),
    ("params_file", PathJoinSubstitution([SHARE, "config", "runtime.yaml"]), "ROS parameter file for the runtime node"),
    ("auto_activate", "true", "configure and activate the runtime node without lifecycle commands"),
    ("log_level", "info", "rcl log level of the runtime node"),
]


def generate_launch_description():
    declared = [DeclareLaunchArgument(name, default_value=default, description=description) for name, default, description in ARGUMENTS]
    world = LaunchConfiguration("world")
    world_name = LaunchConfiguration("world_name")
    model = LaunchConfiguration("model")
    partition = LaunchConfiguration("partition")

    # Both spellings: Harmonic reads GZ_PARTITION, Fortress IGN_PARTITION.
    environment = [
        SetEnvironmentVariable("GZ_PARTITION", partition),
        SetEnvironmentVariable("IGN_PARTITION", partition),
    ]

    # -r: run at once; -s: server only (no GUI).
    gz_args = PythonExpression(["'-r ' + ('' if '", LaunchConfiguration("gui"), "' == 'true' else '-s ') + '", world, "'"])
    gazebo = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution([FindPackageShare("ros_gz_sim"), "launch", "gz_sim.launch.py"])),
        launch_arguments={"gz_args": gz_args, "on_exit_shutdown": "true"}.items(),
    )

    joint_state_topic = ["/world/", world_name, "/model/", model, "/joint_state"]
    wrench_topic = ["/world/", world_name, "/model/", model, "/wrist_ft"]
    bridge = Node(
        package="ros_gz_bridge",
        executable="parameter_bridge",
        name="vla_gz_bridge",
        output="screen",
        condition=IfCondition(LaunchConfiguration("bridge")),
        # gz -> ROS only ("[" direction): the runtime, not ROS, commands the arm.
        # A list of substitutions is one argument, concatenated.
        arguments=[
            "/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock",
            [*joint_state_topic, "@sensor_msgs/msg/JointState[gz.msgs.Model"],
            [*wrench_topic, "@geometry_msgs/msg/Wrench[gz.msgs.Wrench"],
        ],
        remappings=[(joint_state_topic, "/joint_states"), (wrench_topic, "/wrist_wrench")],
    )

    runtime = Node(
        package="vla_runtime",
        executable="runtime",
        name="vla_runtime",
        output="screen",
        emulate_tty=True,
        parameters=[
            LaunchConfiguration("params_file"),
            {
                # The runtime's configuration as ROS parameters (section.snake_case of the config schema).
                "backend.kind": "gz",
                "gz.world": world_name,
                "gz.model": model,
                "gz.type_flavour": LaunchConfiguration("type_flavour"),
                "gz.command_mode": LaunchConfiguration("command_mode"),
                "gz.partition": partition,
                "ros2.auto_activate": ParameterValue(LaunchConfiguration("auto_activate"), value_type=bool),
                "use_sim_time": True,
            },
        ],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
    )
    return LaunchDescription(declared + environment + [gazebo, bridge, runtime])
