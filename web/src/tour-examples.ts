/**
 * The tour: small programs that show what the container isolates and what it does not. Each
 * runs in the real sandbox, like any other run; docs/how-it-works.md explains the same evidence.
 */

export interface TourStep {
  /** Shown on the step's Run button when an example has several steps. */
  label: string;
  code: string;
}

export interface TourExample {
  id: string;
  title: string;
  /** The one sentence that says what the output shows. */
  explanation: string;
  /** Which kernel feature or idea it demonstrates (matches a section of how-it-works). */
  mechanism: string;
  section: string;
  language: string;
  steps: readonly TourStep[];
}

export const TOUR: readonly TourExample[] = [
  {
    id: "kernel",
    title: "Whose kernel is this?",
    explanation:
      "The kernel release is the host's own: every container on this machine shares one kernel, whereas a virtual machine would boot and report its own.",
    mechanism: "containers vs VMs",
    section: "containers-and-virtual-machines",
    language: "bash",
    steps: [{ label: "Run", code: 'uname -r\nuname -v\necho "machine: $(uname -m)"\n' }],
  },
  {
    id: "processes",
    title: "Which processes are there?",
    explanation:
      "A new PID namespace shows the program only its own processes, numbered from 1, while the host runs hundreds it cannot see.",
    mechanism: "pid namespace",
    section: "namespaces",
    language: "bash",
    steps: [
      {
        label: "Run",
        code:
          "# There is no ps in the image; /proc is what ps reads anyway.\n" +
          'printf "%5s  %s\\n" PID COMMAND\n' +
          "for dir in /proc/[0-9]*; do\n" +
          '  printf "%5s  %s\\n" "${dir#/proc/}" "$(tr \'\\0\' \' \' < "$dir/cmdline")"\n' +
          "done\n",
      },
    ],
  },
  {
    id: "network",
    title: "What is this machine called, and what network does it have?",
    explanation:
      "The UTS namespace gives the container its own hostname, and the network namespace has a single interface, the loopback lo: no route leads out.",
    mechanism: "uts and net namespaces",
    section: "namespaces",
    language: "bash",
    steps: [{ label: "Run", code: "hostname\necho\ncat /proc/net/dev\n" }],
  },
  {
    id: "filesystem",
    title: "Whose files are these?",
    explanation:
      "The mount namespace and overlayfs show the image's directories, not the host's: the root is an overlay of read-only image layers under a fresh writable layer.",
    mechanism: "mount namespace, overlayfs",
    section: "union-filesystems",
    language: "bash",
    steps: [
      {
        label: "Run",
        code: 'ls /\necho\necho "The root filesystem:"\ngrep " / / " /proc/self/mountinfo | tr "," "\\n"\n',
      },
    ],
  },
  {
    id: "ephemeral",
    title: "Does a file survive the run?",
    explanation:
      "Whatever a run writes goes to its own upper layer, which is thrown away with the container, so the next run starts again from the untouched image.",
    mechanism: "ephemeral upper layer",
    section: "images-and-containers",
    language: "bash",
    steps: [
      {
        label: "Step 1: write a file",
        code:
          'echo "written at $(date +%T) by run $$" > /var/tmp/note.txt\n' +
          "cat /var/tmp/note.txt\nls -l /var/tmp\n",
      },
      {
        label: "Step 2: look for it",
        code: 'ls -l /var/tmp\ncat /var/tmp/note.txt || echo "gone: this run started from the image again"\n',
      },
    ],
  },
  {
    id: "memory-bomb",
    title: "A memory bomb",
    explanation:
      "The memory cgroup caps the whole run, with no swap to spill into: the list grows until the run reaches its limit and the kernel kills it, which ends memory_limit.",
    mechanism: "memory cgroup",
    section: "cgroups",
    language: "python",
    steps: [
      {
        label: "Run",
        code:
          "chunks = []\n" +
          "while True:\n" +
          "    chunks.append(bytearray(16 * 1024 * 1024))  # 16 MiB, every byte written\n" +
          '    print(len(chunks) * 16, "MiB", flush=True)\n',
      },
    ],
  },
  {
    id: "fork-bomb",
    title: "A fork bomb",
    explanation:
      "The pids cgroup caps how many processes the run may have at once, so the bomb's forks start failing at the ceiling and the host never notices.",
    mechanism: "pids cgroup",
    section: "cgroups",
    language: "bash",
    steps: [
      {
        label: "Run",
        code:
          "mkfifo /tmp/nap   # something to wait on that needs no fork\n" +
          "bomb() { bomb | bomb & }\n" +
          "bomb\n" +
          "read -t 1 <> /tmp/nap   # let it grow for a second\n" +
          "pids=(/proc/[0-9]*)\n" +
          'echo "processes alive now: ${#pids[@]}"\n',
      },
    ],
  },
  {
    id: "privileges",
    title: "What may the program do?",
    explanation:
      "Every capability set is empty and no_new_privs is on, but Seccomp is 0: no syscall filter, so every system call reaches the host's kernel, which is where a container is weaker than a VM.",
    mechanism: "capabilities, no seccomp",
    section: "what-a-container-does-not-isolate",
    language: "bash",
    steps: [{ label: "Run", code: "id\ngrep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status\n" }],
  },
];
