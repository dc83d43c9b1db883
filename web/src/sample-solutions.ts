/**
 * Example solutions for the sample problem "A + B" (read two integers, print their sum), one per
 * verdict a class usually produces, so the grading view can be tried without writing any.
 */
import type { SubmissionCreate } from "./api/gradings";

export const SAMPLE_PROBLEM = "aplusb";

export const SAMPLE_SOLUTIONS: readonly Required<SubmissionCreate>[] = [
  {
    label: "ada.py",
    language: "python",
    source: "import sys\n\na, b = map(int, sys.stdin.read().split())\nprint(a + b)\n",
  },
  {
    label: "grace.cpp",
    language: "cpp",
    source:
      "#include <iostream>\n\nint main() {\n    long long a, b;\n    std::cin >> a >> b;\n" +
      "    std::cout << a + b << std::endl;\n}\n",
  },
  {
    label: "alan.py",
    language: "python",
    source: "a, b = map(int, input().split())  # fails when b is on another line\nprint(a + b)\n",
  },
  {
    label: "linus.js",
    language: "javascript",
    source:
      'const [a, b] = require("fs").readFileSync(0, "utf8").trim().split(/\\s+/).map(Number);\n' +
      "console.log(a - b); // oops\n",
  },
  {
    label: "ken.py",
    language: "python",
    source: "a, b = map(int, input().split())\nwhile a + b != -1:  # counts forever\n    a += 1\n",
  },
  {
    label: "dennis.cpp",
    language: "cpp",
    source: "#include <iostream>\n\nint main() {\n    std::cout << a + b\n}\n",
  },
];
