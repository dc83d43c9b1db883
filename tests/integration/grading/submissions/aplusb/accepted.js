// BigInt: Number loses precision past 2^53, and the answers go up to 2e18.
const [a, b] = require("fs").readFileSync(0, "utf8").trim().split(/\s+/).map(BigInt);
console.log((a + b).toString());
