// msgpackr requires this module inside a try/catch and uses its JavaScript decoder when it throws.
throw new Error("msgpackr-extract is disabled in IOSChain: LMDB values are binary, no msgpack strings to extract");
