// 3.14 is not pi: wrong beyond the tolerance, except for r = 0.
const r = parseFloat(require("fs").readFileSync(0, "utf8"));
console.log(3.14 * r * r);
