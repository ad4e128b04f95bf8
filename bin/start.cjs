/*
 * The part of the launcher (bin/orbit-account) that only a Node it has accepted reads:
 * it loads the CLI's module here, or runs it in a child on another Node.
 */
'use strict'
const { spawn } = require('node:child_process')
const { pathToFileURL } = require('node:url')
const { useCompileCache } = require('./compile-cache.cjs')

/** Runs the CLI's entry module in this process (it reads process.argv and exits itself). */
exports.load = (file) => {
  // Before the first module of the CLI: everything it loads, TypeScript included, comes from the cache.
  useCompileCache()
  import(pathToFileURL(file).href).catch((err) => {
    process.stderr.write(`orbit-account: cannot load ${file}: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}

/**
 * Runs the CLI on `node` in a child with this process's stdio, and ends as it ends.
 * SIGTERM and SIGHUP are passed on; SIGINT is not: a Ctrl-C at the terminal reaches the
 * child already (the same process group), and a second one would cut its clean stop short.
 */
exports.spawnOn = (node, file) => {
  const child = spawn(node, [file, ...process.argv.slice(2)], { stdio: 'inherit' })
  process.on('SIGINT', () => {})
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal))
  child.on('error', (err) => {
    process.stderr.write(`orbit-account: cannot run ${node}: ${err.message}\n`)
    process.exit(1)
  })
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1)
    process.removeAllListeners(signal)
    process.kill(process.pid, signal)
  })
}
