/**
 * Demo MCP server "weather" (stdio): a deterministic, offline weather service for a few
 * cities. Tools: `get_forecast`, `convert_temperature`, `search` (the name `search` also
 * exists on the notes server, to show vmcp's conflict resolution).
 *
 *   deno run --allow-read --allow-env --no-prompt examples/demo/weather_server.ts
 * @module
 */

import { z } from "zod";
import { McpServer, StdioServerTransport } from "../../core/sdk.ts";

interface City {
  name: string;
  country: string;
  /** Typical daytime temperature in °C. */
  baseC: number;
  conditions: string[];
}

const CITIES: City[] = [
  { name: "Amsterdam", country: "NL", baseC: 14, conditions: ["rain", "cloudy", "sunny"] },
  { name: "Berlin", country: "DE", baseC: 13, conditions: ["cloudy", "sunny", "rain"] },
  { name: "Lisbon", country: "PT", baseC: 21, conditions: ["sunny", "sunny", "cloudy"] },
  { name: "Oslo", country: "NO", baseC: 7, conditions: ["snow", "cloudy", "sunny"] },
  { name: "Tokyo", country: "JP", baseC: 18, conditions: ["sunny", "rain", "cloudy"] },
];

function findCity(name: string): City | undefined {
  return CITIES.find((c) => c.name.toLowerCase() === name.trim().toLowerCase());
}

/** A stable pseudo-forecast: the same city and day always give the same weather. */
export function forecast(city: City, days: number) {
  return Array.from({ length: days }, (_, day) => {
    const swing = ((city.name.length * 7 + day * 5) % 9) - 4;
    return {
      day: day + 1,
      condition: city.conditions[day % city.conditions.length]!,
      highC: city.baseC + swing,
      lowC: city.baseC + swing - 6,
    };
  });
}

export function convertTemperature(value: number, from: "C" | "F" | "K", to: "C" | "F" | "K") {
  const c = from === "C" ? value : from === "F" ? (value - 32) * 5 / 9 : value - 273.15;
  const out = to === "C" ? c : to === "F" ? c * 9 / 5 + 32 : c + 273.15;
  return Math.round(out * 100) / 100;
}

export function createWeatherServer(): McpServer {
  const server = new McpServer({ name: "weather", version: "1.0.0" });

  server.registerTool("get_forecast", {
    description: "Daily forecast (condition, high and low in °C) for a known city",
    inputSchema: {
      city: z.string().describe("city name, e.g. Lisbon"),
      days: z.number().int().min(1).max(7).default(3).describe("number of days, 1-7"),
    },
  }, ({ city, days }) => {
    const found = findCity(city);
    if (!found) {
      const known = CITIES.map((c) => c.name).join(", ");
      return {
        isError: true,
        content: [{ type: "text", text: `unknown city "${city}"; known: ${known}` }],
      };
    }
    const daysOut = forecast(found, days);
    const lines = daysOut.map((d) => `day ${d.day}: ${d.condition}, ${d.lowC}–${d.highC} °C`);
    return {
      content: [{ type: "text", text: `${found.name}, ${found.country}\n${lines.join("\n")}` }],
      structuredContent: { city: found.name, days: daysOut },
    };
  });

  server.registerTool("convert_temperature", {
    description: "Converts a temperature between Celsius (C), Fahrenheit (F) and Kelvin (K)",
    inputSchema: {
      value: z.number(),
      from: z.enum(["C", "F", "K"]),
      to: z.enum(["C", "F", "K"]),
    },
  }, ({ value, from, to }) => {
    const result = convertTemperature(value, from, to);
    return { content: [{ type: "text", text: `${value} °${from} = ${result} °${to}` }] };
  });

  server.registerTool("search", {
    description: "Searches the cities the weather service knows (by name or country code)",
    inputSchema: { query: z.string().describe("part of a city name or a country code") },
  }, ({ query }) => {
    const q = query.trim().toLowerCase();
    const hits = CITIES.filter((c) =>
      c.name.toLowerCase().includes(q) || c.country === q.toUpperCase()
    );
    const text = hits.length
      ? hits.map((c) => `${c.name} (${c.country})`).join("\n")
      : `no city matches "${query}"`;
    return { content: [{ type: "text", text }] };
  });

  return server;
}

if (import.meta.main) {
  await createWeatherServer().connect(new StdioServerTransport());
}
