/**
 * Demo MCP server "notes" (stdio): an in-memory notebook. Tools: `add_note`, `list_notes`,
 * `search` (the name `search` also exists on the weather server, to show vmcp's conflict
 * resolution). Notes live as long as the process.
 *
 *   deno run --allow-read --allow-env --no-prompt examples/demo/notes_server.ts
 * @module
 */

import { z } from "zod";
import { McpServer, StdioServerTransport } from "../../core/sdk.ts";

export interface Note {
  id: number;
  title: string;
  body: string;
  tags: string[];
}

export class Notebook {
  readonly #notes: Note[] = [];

  add(title: string, body: string, tags: string[] = []): Note {
    const note = { id: this.#notes.length + 1, title, body, tags };
    this.#notes.push(note);
    return note;
  }

  list(tag?: string): Note[] {
    return tag ? this.#notes.filter((n) => n.tags.includes(tag)) : [...this.#notes];
  }

  search(query: string): Note[] {
    const q = query.trim().toLowerCase();
    return this.#notes.filter((n) =>
      n.title.toLowerCase().includes(q) || n.body.toLowerCase().includes(q) ||
      n.tags.some((t) => t.toLowerCase() === q)
    );
  }
}

const summary = (n: Note) => `#${n.id} ${n.title}${n.tags.length ? ` [${n.tags.join(", ")}]` : ""}`;

export function createNotesServer(notebook = new Notebook()): McpServer {
  const server = new McpServer({ name: "notes", version: "1.0.0" });
  notebook.add("Welcome", "This notebook lives in memory; add notes with add_note.", ["demo"]);

  server.registerTool("add_note", {
    description: "Adds a note and returns its id",
    inputSchema: {
      title: z.string().min(1),
      body: z.string(),
      tags: z.array(z.string()).default([]),
    },
  }, ({ title, body, tags }) => {
    const note = notebook.add(title, body, tags);
    return {
      content: [{ type: "text", text: `added ${summary(note)}` }],
      structuredContent: { id: note.id },
    };
  });

  server.registerTool("list_notes", {
    description: "Lists notes, optionally only those with a tag",
    inputSchema: { tag: z.string().optional() },
  }, ({ tag }) => {
    const notes = notebook.list(tag);
    return {
      content: [{ type: "text", text: notes.map(summary).join("\n") || "no notes" }],
    };
  });

  server.registerTool("search", {
    description: "Full-text search over note titles, bodies and tags",
    inputSchema: { query: z.string().describe("words to look for") },
  }, ({ query }) => {
    const hits = notebook.search(query);
    const text = hits.length
      ? hits.map((n) => `${summary(n)}: ${n.body}`).join("\n")
      : `no note matches "${query}"`;
    return { content: [{ type: "text", text }] };
  });

  return server;
}

if (import.meta.main) {
  await createNotesServer().connect(new StdioServerTransport());
}
