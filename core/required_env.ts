/**
 * Reading a secret a config names by environment variable (`*Env` fields).
 * @module
 */

/**
 * The value of environment variable `name`, which config field `field` names. Throws a
 * `TypeError` naming the field and the variable when it is not set (an empty value is a value).
 */
export function requiredEnv(
  field: string,
  name: string,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): string {
  const value = env(name);
  if (value === undefined) {
    throw new TypeError(`Invalid ${field} "${name}": the environment variable is not set`);
  }
  return value;
}
