-- tables.lua: arrays and hash tables growing, shrinking and rehashing;
-- every output is independent of hash order (keys are sorted first).

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) < type(b)
  end)
  return keys
end

-- An array that grows one element at a time, then shrinks from the end.
local a = {}
for i = 1, 10000 do a[i] = i * 3 end
local sum = 0
for i = 1, #a do sum = sum + a[i] end
print("array", #a, sum)
for i = #a, 2501, -1 do a[i] = nil end
print("shrunk", #a, a[#a])

-- table.insert / table.remove in the middle move every element after.
local q = {}
for i = 1, 2000 do table.insert(q, 1, i) end
for i = 1, 500 do table.remove(q, 1 + (i * 7) % #q) end
local s = 0
for i, v in ipairs(q) do s = s + i * v end
print("insert/remove", #q, s)

-- Hash part: string keys made at run time, then half deleted.
local h = {}
for i = 1, 10000 do h["key" .. i] = i end
for i = 1, 10000, 2 do h["key" .. i] = nil end
local n, total = 0, 0
for _, v in pairs(h) do n = n + 1; total = total + v end
print("hash", n, total)
local keys = sorted_keys(h)
print("first keys", keys[1], keys[2], keys[3], keys[#keys])

-- Mixed keys: integers, floats with integer values, strings, booleans.
local m = {}
m[1] = "one"; m[2.0] = "two"; m["3"] = "three"; m[true] = "yes"
m[2^53] = "big"; m[-0.5] = "neg"
for _, k in ipairs(sorted_keys(m)) do
  print("mixed", tostring(k), m[k])
end

-- Nested tables: a tree built and then walked.
local function build(depth, id)
  if depth == 0 then return { id = id } end
  return { id = id, left = build(depth - 1, id * 2),
           right = build(depth - 1, id * 2 + 1) }
end
local function walk(t)
  if not t.left then return 1, t.id end
  local n1, s1 = walk(t.left)
  local n2, s2 = walk(t.right)
  return n1 + n2 + 1, s1 + s2 + t.id
end
for d = 8, 12, 2 do
  print("tree", d, walk(build(d, 1)))
end

-- table.concat, table.unpack, table.move, table.sort with a comparator.
local words = {}
for i = 1, 300 do words[i] = string.format("w%03d", (i * 37) % 300) end
table.sort(words, function(x, y) return x > y end)
print("sorted", words[1], words[2], words[300])
print("concat", #table.concat(words, ","), table.concat(words, "", 1, 5))
local moved = table.move(words, 1, 10, 5, {})
print("move", #moved, moved[5], moved[14])
print("unpack", table.unpack({ 10, 20, 30, 40 }, 2, 3))

-- Many small tables alive at once (a matrix of rows).
local rows = {}
for i = 1, 300 do
  local r = {}
  for j = 1, 300 do r[j] = (i * j) % 97 end
  rows[i] = r
end
local trace = 0
for i = 1, 300 do trace = trace + rows[i][i] end
print("matrix trace", trace)
rows = nil
collectgarbage("collect")
print("done")
