throw new Error("not implemented yet");
