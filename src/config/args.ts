// Command-line words -> a command, its positional arguments, a config file and `--section.key value` overrides.
import { ConfigError } from "./load.js";

export interface ParsedArgs {
  command: string;
  positional: string[];
  configFile?: string;
  overrides: Record<string, string>;
  help: boolean;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const parsed: ParsedArgs = { command: "", positional: [], overrides: {}, help: false };
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === "--help" || word === "-h") {
      parsed.help = true;
    } else if (word === "--config" || word.startsWith("--config=")) {
      const value = word.includes("=") ? word.slice("--config=".length) : argv[++i];
      if (!value) throw new ConfigError("--config: expected a file path after it");
      parsed.configFile = value;
    } else if (word.startsWith("--")) {
      const [key, inline] = splitOnce(word.slice(2), "=");
      if (inline !== undefined) {
        parsed.overrides[key] = inline;
      } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
        parsed.overrides[key] = argv[++i];
      } else {
        parsed.overrides[key] = ""; // a bare boolean flag
      }
    } else if (!parsed.command) {
      parsed.command = word;
    } else {
      parsed.positional.push(word);
    }
  }
  return parsed;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}
