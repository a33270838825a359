#!/usr/bin/env node
// The vhdx-conformance command. Its code is built into dist/; this file is
// committed so that it exists at install time, when package managers link the bin.
import "../dist/cli.js";
