// Reads a `holdfast --json export` file. Small files are parsed whole; a large one (100,000
// documents export to ~940 MB) cannot be: Node's strings stop at 512 MiB
// (ERR_STRING_TOO_LONG). So the file is read as bytes and each element of the top-level
// arrays (`case_files`, `action_plans`, `directories`) is parsed on its own. Other top-level
// values (the exporting device's id) are left out; nothing here needs them.

import fs from "node:fs";

const WHOLE_LIMIT = 256 * 1024 * 1024;

/** The export at `file` as an object of its top-level arrays. */
export function readExport(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < WHOLE_LIMIT) return JSON.parse(buf.toString("utf8"));
  const out = {};
  let depth = 0;
  let inStr = false;
  let esc = false;
  let strStart = -1;
  let key = null; // the top-level key whose value is being read
  let list = null; // that value, when it is an array
  let elem = -1; // where the current element of `list` begins
  const push = end => {
    list.push(JSON.parse(buf.toString("utf8", elem, end)));
    elem = -1;
  };
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inStr) {
      if (esc) esc = false;
      else if (c === 0x5c) esc = true;
      else if (c === 0x22) {
        inStr = false;
        if (depth === 1 && key === null) key = JSON.parse(buf.toString("utf8", strStart, i + 1));
      }
      continue;
    }
    switch (c) {
      case 0x22: // "
        inStr = true;
        strStart = i;
        if (depth === 2 && list && elem < 0) elem = i;
        break;
      case 0x7b: // {
      case 0x5b: // [
        if (depth === 1 && c === 0x5b && key !== null) list = out[key] = [];
        else if (depth === 2 && list && elem < 0) elem = i;
        depth++;
        break;
      case 0x7d: // }
      case 0x5d: // ]
        depth--;
        if (depth === 1 && list) {
          if (elem >= 0) push(i);
          list = null;
        }
        break;
      case 0x2c: // ,
        if (depth === 2 && list && elem >= 0) push(i);
        else if (depth === 1) key = null;
        break;
      case 0x20:
      case 0x0a:
      case 0x0d:
      case 0x09:
      case 0x3a: // :
        break;
      default: // a number, true, false or null element
        if (depth === 2 && list && elem < 0) elem = i;
    }
  }
  if (depth !== 0 || inStr) throw new Error(`${file}: truncated JSON`);
  return out;
}
