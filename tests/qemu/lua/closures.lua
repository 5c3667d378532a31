-- closures.lua: closures and upvalues, varargs, metatables and
-- finalizers (counted, not ordered).

local function counter(start)
  local n = start
  return function(step) n = n + (step or 1); return n end
end
local cs = {}
for i = 1, 1000 do cs[i] = counter(i) end
local total = 0
for i = 1, 1000 do
  for _ = 1, 10 do total = total + cs[i](i % 3) end
end
print("counters", total)

-- Shared upvalues: closures made in one scope see each other's writes.
local function pair()
  local v = 0
  return function() v = v + 1 end, function() return v end
end
local inc, get = pair()
for _ = 1, 12345 do inc() end
print("shared", get())

-- Closures in a loop capture a fresh variable per iteration.
local fs = {}
for i = 1, 50 do fs[i] = function() return i * i end end
local s = 0
for _, f in ipairs(fs) do s = s + f() end
print("loop capture", s)

-- Memoisation in a table held by a closure.
local function memo(f)
  local cache = {}
  return function(n)
    local v = cache[n]
    if v == nil then v = f(n); cache[n] = v end
    return v
  end
end
local fib
fib = memo(function(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end)
print("fib", fib(80), fib(90))

-- Varargs, select, table.pack / table.unpack.
local function va(...)
  local t = table.pack(...)
  return t.n, select("#", ...), select(2, ...)
end
print("varargs", va(1, nil, 3, nil))
local function sum(...)
  local r = 0
  for i = 1, select("#", ...) do r = r + (select(i, ...) or 0) end
  return r
end
local big = {}
for i = 1, 200 do big[i] = i end
print("sum unpack", sum(table.unpack(big)))

-- Metatables: a vector type with arithmetic, comparison, __index, __call.
local V = {}
V.__index = V
V.__add = function(a, b) return setmetatable({ x = a.x + b.x, y = a.y + b.y }, V) end
V.__eq = function(a, b) return a.x == b.x and a.y == b.y end
V.__lt = function(a, b) return a:len2() < b:len2() end
V.__tostring = function(v) return "(" .. v.x .. "," .. v.y .. ")" end
V.__call = function(v, k) return v.x * k, v.y * k end
function V.new(x, y) return setmetatable({ x = x, y = y }, V) end
function V:len2() return self.x * self.x + self.y * self.y end
local acc = V.new(0, 0)
for i = 1, 10000 do acc = acc + V.new(i % 7, -(i % 5)) end
print("vector", tostring(acc), acc == V.new(acc.x, acc.y), V.new(1, 1) < V.new(2, 0), acc(2))

-- Inheritance through __index chains.
local Base = { kind = "base" }
Base.__index = Base
function Base:describe() return self.kind .. ":" .. self.name end
local Derived = setmetatable({ kind = "derived" }, Base)
Derived.__index = Derived
local objs = {}
for i = 1, 100 do
  objs[i] = setmetatable({ name = "o" .. i }, i % 2 == 0 and Derived or Base)
end
print("inherit", objs[1]:describe(), objs[2]:describe(), objs[100]:describe())

-- Finalizers: every one runs once its object is unreachable.
local finalized = 0
do
  local mt = { __gc = function() finalized = finalized + 1 end }
  for _ = 1, 500 do setmetatable({}, mt) end
end
collectgarbage("collect")
collectgarbage("collect")
print("finalized", finalized)

-- pcall / error with tables and strings as error values.
local ok, err = pcall(error, { code = 42 })
print("pcall table", ok, type(err), err.code)
ok, err = pcall(function() local t = nil; return t.x end)
print("pcall msg", ok, err)
print("xpcall", xpcall(function() error("boom", 0) end, function(m) return "handled " .. m end))
print("done")
