-- coroutines.lua: generators, producer/consumer pipelines, many live
-- coroutines, yields across pcall, errors inside coroutines, close.

-- A generator through coroutine.wrap.
local function range(n)
  return coroutine.wrap(function()
    for i = 1, n do coroutine.yield(i) end
  end)
end
local s = 0
for i in range(10000) do s = s + i end
print("generator", s)

-- Producer -> filter -> consumer.
local function producer(n)
  return coroutine.create(function()
    for i = 1, n do coroutine.yield(string.format("item%d", i)) end
    return nil
  end)
end
local function filter(src)
  return coroutine.create(function()
    while true do
      local ok, v = coroutine.resume(src)
      if not v then return nil end
      if #v % 2 == 0 then coroutine.yield(v:upper()) end
    end
  end)
end
local f = filter(producer(3000))
local got, last = 0, nil
while true do
  local _, v = coroutine.resume(f)
  if not v then break end
  got = got + 1; last = v
end
print("pipeline", got, last, coroutine.status(f))

-- Many coroutines alive at once, each with its own stack, resumed round
-- robin.
local cos = {}
for i = 1, 500 do
  cos[i] = coroutine.create(function(a)
    local t = {}
    for k = 1, 20 do
      t[k] = a * k
      a = coroutine.yield(#t)
    end
    return t[20]
  end)
end
local live, results = #cos, 0
local arg = 1
while live > 0 do
  live = 0
  for i = 1, #cos do
    local co = cos[i]
    if coroutine.status(co) == "suspended" then
      local ok, v = coroutine.resume(co, arg + i)
      if not ok then error(v) end
      if coroutine.status(co) == "dead" then results = results + v else live = live + 1 end
    end
  end
  arg = arg + 1
end
print("round robin", results)

-- Yield across pcall, and an error inside a coroutine.
local co = coroutine.create(function()
  local ok, err = pcall(function()
    coroutine.yield("inside pcall")
    error("after yield")
  end)
  coroutine.yield(ok, err)
  error({ why = "table error" })
end)
print("yield/pcall", coroutine.resume(co))
print("yield/pcall", coroutine.resume(co))
local ok, e = coroutine.resume(co)
print("error", ok, type(e), e.why, coroutine.status(co))

-- coroutine.close runs pending to-be-closed variables.
local closed = 0
local c2 = coroutine.create(function()
  local x <close> = setmetatable({}, { __close = function() closed = closed + 1 end })
  coroutine.yield(1)
end)
coroutine.resume(c2)
print("close", coroutine.close(c2), closed, coroutine.status(c2))

-- isyieldable, running, wrap with multiple values.
print("running", coroutine.isyieldable(), select(2, coroutine.running()))
local w = coroutine.wrap(function(a, b)
  local c, d = coroutine.yield(a + b, a * b)
  return c .. d
end)
print("wrap", w(3, 4))
print("wrap", w("x", "y"))

-- Deep recursion inside coroutines (their stacks grow and shrink).
local function depth(n) if n == 0 then return 0 end return 1 + depth(n - 1) end
local deep = coroutine.wrap(function()
  for k = 1, 5 do coroutine.yield(depth(k * 2000)) end
end)
local d = 0
for _ = 1, 5 do d = d + deep() end
print("deep", d)
collectgarbage("collect")
print("done")
