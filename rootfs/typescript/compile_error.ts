const answer: number = undefined_name;
console.log(answer);
