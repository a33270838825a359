#!/usr/bin/env node
// The vhdx command. Its code is built into dist/; this file is committed so
// that it exists at install time, when package managers link the bin.
// CommonJS: an ES module entry costs Node 20 about 5 ms more to start.
require("../dist/vhdx.cjs");
