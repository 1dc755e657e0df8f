/**
 * Writes bench/optimizer/fixtures/tools.json: the tools of real MCP servers from npm, listed
 * with a real MCP client over stdio. Run once (the fixture is checked in):
 *
 *   mkdir -p /tmp/servers && cd /tmp/servers && npm install <the packages below, pinned>
 *   deno run -A bench/optimizer/collect_tools.ts /tmp/servers
 *
 * Servers that need credentials get placeholders: listing tools calls nothing.
 * @module
 */
import { Client, getDefaultEnvironment, StdioClientTransport, type Tool } from "../../core/sdk.ts";

const encoder = new TextEncoder();
function print(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text + "\n"));
}

interface ServerSpec {
  name: string;
  pkg: string;
  version: string;
  /** Path of the entry point under node_modules/<pkg>. */
  bin: string;
  args?: string[];
  env?: Record<string, string>;
}

export const SERVERS: ServerSpec[] = [
  {
    name: "everything",
    pkg: "@modelcontextprotocol/server-everything",
    version: "2026.8.31",
    bin: "dist/index.js",
    args: ["stdio"],
  },
  {
    name: "filesystem",
    pkg: "@modelcontextprotocol/server-filesystem",
    version: "2026.8.31",
    bin: "dist/index.js",
    args: ["/tmp"],
  },
  {
    name: "memory",
    pkg: "@modelcontextprotocol/server-memory",
    version: "2026.8.31",
    bin: "dist/index.js",
  },
  {
    name: "sequential-thinking",
    pkg: "@modelcontextprotocol/server-sequential-thinking",
    version: "2026.8.31",
    bin: "dist/index.js",
  },
  {
    name: "github",
    pkg: "@modelcontextprotocol/server-github",
    version: "2025.4.8",
    bin: "dist/index.js",
    env: { GITHUB_PERSONAL_ACCESS_TOKEN: "placeholder" },
  },
  {
    name: "gitlab",
    pkg: "@modelcontextprotocol/server-gitlab",
    version: "2025.4.25",
    bin: "dist/index.js",
    env: { GITLAB_PERSONAL_ACCESS_TOKEN: "placeholder" },
  },
  {
    name: "slack",
    pkg: "@modelcontextprotocol/server-slack",
    version: "2025.4.25",
    bin: "dist/index.js",
    env: { SLACK_BOT_TOKEN: "placeholder", SLACK_TEAM_ID: "T0" },
  },
  {
    name: "brave-search",
    pkg: "@modelcontextprotocol/server-brave-search",
    version: "0.6.2",
    bin: "dist/index.js",
    env: { BRAVE_API_KEY: "placeholder" },
  },
  {
    name: "google-maps",
    pkg: "@modelcontextprotocol/server-google-maps",
    version: "0.6.2",
    bin: "dist/index.js",
    env: { GOOGLE_MAPS_API_KEY: "placeholder" },
  },
  {
    name: "postgres",
    pkg: "@modelcontextprotocol/server-postgres",
    version: "0.6.2",
    bin: "dist/index.js",
    args: ["postgresql://127.0.0.1:9/none"],
  },
  { name: "playwright", pkg: "@playwright/mcp", version: "0.0.83", bin: "cli.js" },
  {
    name: "notion",
    pkg: "@notionhq/notion-mcp-server",
    version: "2.5.2",
    bin: "bin/cli.mjs",
    env: { NOTION_TOKEN: "placeholder" },
  },
  { name: "kubernetes", pkg: "mcp-server-kubernetes", version: "4.1.7", bin: "dist/index.js" },
  { name: "context7", pkg: "@upstash/context7-mcp", version: "4.1.1", bin: "dist/index.js" },
];

async function listTools(root: string, s: ServerSpec): Promise<Tool[]> {
  const transport = new StdioClientTransport({
    command: "node",
    args: [`${root}/node_modules/${s.pkg}/${s.bin}`, ...(s.args ?? [])],
    env: { ...getDefaultEnvironment(), ...(s.env ?? {}) },
    stderr: "ignore",
  });
  const client = new Client({ name: "vmcp-bench-collector", version: "1.0.0" });
  await client.connect(transport);
  try {
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    return tools;
  } finally {
    await client.close();
  }
}

if (import.meta.main) {
  const root = Deno.args[0] ?? "/tmp/servers";
  const out: { server: string; package: string; version: string; tools: Tool[] }[] = [];
  for (const s of SERVERS) {
    try {
      const tools = await listTools(root, s);
      out.push({ server: s.name, package: s.pkg, version: s.version, tools });
      print(`${s.name}: ${tools.length} tools`);
    } catch (err) {
      print(`${s.name}: failed: ${err instanceof Error ? err.message : err}`);
    }
  }
  const path = new URL("./fixtures/tools.json", import.meta.url);
  await Deno.writeTextFile(path, JSON.stringify(out, null, 1) + "\n");
  print(
    `wrote ${out.reduce((n, s) => n + s.tools.length, 0)} tools of ${out.length} servers`,
  );
}
