"""Regenerates extra-cases.json: golden outputs from Python jinja2 for the Swift chat-template renderer.

Run from this folder with jinja2 3.1 installed:  python3 generate.py
The environment is set up exactly as transformers' apply_chat_template sets it up (see ../README.md).
Two kinds of cases: real templates rendered with tools / tool calls / template kwargs, and small
inline templates exercising one construct each.
"""
import datetime, json, os
import jinja2, jinja2.ext, jinja2.sandbox

env = jinja2.sandbox.ImmutableSandboxedEnvironment(
    trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
env.filters["tojson"] = tojson
def raise_exception(message): raise jinja2.exceptions.TemplateError(message)
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = lambda fmt: datetime.datetime(2025, 3, 14).strftime(fmt)

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = json.load(open(os.path.join(HERE, "..", "templates.json")))
TOKENS = {t["name"]: (t["bos_token"], t["eos_token"]) for t in TEMPLATES}

weather = {"type": "function", "function": {"name": "get_weather", "description": "Get the weather — in °C, for a city «quoted \"x\"»",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name, e.g. 東京"},
    "days": {"type": "integer", "minimum": -3, "maximum": 14}, "scale": {"type": "number", "default": 4.5, "enum": [1.0, 12.5, 1e-07, 1e+16]},
    "flags": {"type": "array", "items": {}}, "meta": {}}, "required": ["city"]}}}
search = {"name": "search", "description": "Search\tthe web\nfor text", "parameters": {"query": "string", "strict": True, "limit": None}}

call_msg = {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 3, "scale": 0.5, "deep": {"a": [1, 2.0, None, True]}}}}]}
call_msg_plain = {"role": "assistant", "content": None, "tool_calls": [{"name": "search", "arguments": {"query": "swift \"jinja\""}}]}
builtin_call = {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "brave_search", "arguments": {"query": "weather", "count": "3"}}}]}
tool_str = {"role": "tool", "content": "Sunny, 21 °C"}
tool_dict = {"role": "tool", "content": {"temp": 21, "unit": "C", "ok": True}}
ipython_list = {"role": "ipython", "content": ["a", 1, None]}

def conv(*msgs): return list(msgs)
user = {"role": "user", "content": "What's the weather in Paris?"}
system = {"role": "system", "content": "  You are terse.  "}
assistant = {"role": "assistant", "content": "It is sunny."}

real = []
def add_real(template, name, messages, gen=True, **extra):
    bos, eos = TOKENS[template]
    variables = {"messages": messages, "add_generation_prompt": gen, "bos_token": bos, "eos_token": eos, "tools": None}
    variables.update(extra)
    real.append({"id": f"{template}/{name}/{'gen' if gen else 'nogen'}", "template_file": template, "variables": variables})

for t in ["llama-3.1-8b-instruct", "llama-3.2-3b-instruct"]:
    add_real(t, "tools-in-user", conv(system, user), tools=[weather, search])
    add_real(t, "tools-in-system", conv(user), tools=[weather], tools_in_user_message=False)
    add_real(t, "tool-call-roundtrip", conv(user, call_msg, tool_str, assistant, user), tools=[weather], tools_in_user_message=False)
    add_real(t, "tool-dict-result", conv(user, call_msg, tool_dict, ipython_list), gen=False, tools=[weather], tools_in_user_message=False)
    add_real(t, "custom-tools", conv(user), custom_tools=[search])
    add_real(t, "date-string", conv(user), date_string="01 Jan 2030")
    add_real(t, "no-user-with-tools", conv(system), tools=[weather])
    add_real(t, "two-tool-calls", conv(user, {"role": "assistant", "tool_calls": [call_msg["tool_calls"][0], call_msg["tool_calls"][0]]}), tools=[weather], tools_in_user_message=False)
    add_real(t, "empty-messages", conv(), gen=True)
add_real("llama-3.1-8b-instruct", "builtin-tools", conv(user, builtin_call, tool_str), builtin_tools=["brave_search", "code_interpreter", "wolfram_alpha"])
add_real("llama-3.1-8b-instruct", "builtin-and-custom", conv(user, call_msg), builtin_tools=["brave_search"], tools=[weather], tools_in_user_message=False)
q = "qwen2.5-0.5b-instruct"
add_real(q, "tools", conv(user), tools=[weather, search])
add_real(q, "tools-system", conv(system, user), tools=[weather])
add_real(q, "tool-calls", conv(system, user, call_msg, tool_str, tool_str, assistant, user), tools=[weather])
add_real(q, "tool-calls-plain", conv(user, call_msg_plain, tool_str), gen=False, tools=[search])
add_real(q, "assistant-with-content-and-call", conv(user, dict(call_msg, content="Let me check."), tool_str), tools=[weather])
add_real(q, "system-later", conv(user, {"role": "system", "content": "late"}, user))
add_real(q, "empty-tools-list", conv(user), tools=[])
for t in ["smollm2-135m-instruct", "phi-3-mini-4k-instruct", "gemma-2-2b-it", "mistral-7b-instruct-v0.2", "mistral-7b-instruct-v0.2-legacy", "llama-3-8b-instruct"]:
    add_real(t, "long-multi-turn", conv(user, assistant, user, assistant, user))
    add_real(t, "assistant-last", conv(user, assistant), gen=False)
add_real("mistral-7b-instruct-v0.2", "bad-role", conv(user, {"role": "tool", "content": "x"}))
add_real("mistral-7b-instruct-v0.2-legacy", "bad-role", conv(user, {"role": "tool", "content": "x"}))

# Inline construct cases: (id, source, variables).
V = {"xs": [3, 1, 2], "words": ["b", "A", "c"], "d": {"z": 1, "a": [1, 2], "items": "key"}, "s": "  Hello, World  ",
     "n": None, "f": 2.5, "i": 7, "t": True, "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
     "uni": "é中文🙂\t\"q\"\\"}
inline = [
    ("ws-dash", "a  {%- if true %} b {% endif -%}  c\n  {{- 'd' -}}  e", {}),
    ("trim-lstrip", "x\n    {% if true %}\n    y\n    {% endif %}\nz\n", {}),
    ("lstrip-inline", "a {% if true %}b{% endif %} c\n  {# note #}\nd", {}),
    ("plus-markers", "  {%+ if true %}x{% endif +%}\ny", {}),
    ("comment-strip", "a  {#- c -#}  b {# keep #}\nc", {}),
    ("raw", "{% raw %}{{ not parsed }}{% endraw %}!", {}),
    ("loop-vars", "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}|{% endfor %}", V),
    ("loop-cycle-else", "{% for x in xs %}{{ loop.cycle('a','b') }}{% endfor %}{% for x in [] %}no{% else %}empty{% endfor %}", V),
    ("loop-filter-break", "{% for x in xs if x > 1 %}{{ x }}{{ loop.length }}{% endfor %};{% for x in xs %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}", V),
    ("loop-scope", "{% set y = 0 %}{% for x in xs %}{{ y }}{% set y = x %}{{ y }}{% endfor %}{{ y }}", V),
    ("tuple-unpack", "{% for k, v in d|items %}{{ k }}={{ v }};{% endfor %}{% for k, v in d.items() %}{{ k }}{% endfor %}", V),
    ("if-elif-else", "{% for x in [1,2,3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %}{% endfor %}", {}),
    ("namespace", "{% set ns = namespace(found=false, n=0) %}{% for x in xs %}{% if x == 1 %}{% set ns.found = true %}{% endif %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.found }} {{ ns.n }}", V),
    ("set-block", "{% set body %}Hi {{ 1 + 1 }}{% endset %}[{{ body }}]{% set up | upper %}abc{% endset %}{{ up }}", {}),
    ("macro", "{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', punct='?') }}", {}),
    ("tests", "{{ u is defined }}{{ n is none }}{{ s is string }}{{ d is mapping }}{{ xs is iterable }}{{ s is iterable }}{{ u is iterable }}{{ xs is sequence }}{{ i is number }}{{ f is number }}{{ t is number }}{{ i is integer }}{{ f is float }}{{ t is boolean }}{{ i is odd }}{{ i is even }}{{ 9 is divisibleby 3 }}{{ n is not none }}{{ not n is none }}{{ u is undefined }}{{ 'upper' is filter }}", V),
    ("filters-str", "{{ s|trim }}|{{ s|upper }}|{{ s|lower }}|{{ 'hELLO wORLD'|capitalize }}|{{ 'hello big-world (x)'|title }}|{{ s|length }}|{{ uni|length }}|{{ i|string }}{{ n|string }}|{{ '42'|int + 1 }}|{{ '4.7'|int }}|{{ 'x'|int }}|{{ '2.5'|float }}|{{ s|replace('l', 'L') }}|{{ 'a<b>&'|e }}", V),
    ("filters-list", "{{ xs|join(', ') }}|{{ xs|first }}|{{ xs|last }}|{{ xs|length }}|{{ words|sort|join }}|{{ xs|sort(reverse=true)|join }}|{{ xs|reverse|list }}|{{ xs|sum }}|{{ xs|min }}{{ xs|max }}|{{ ['a','A','b']|unique|list }}|{{ msgs|map(attribute='role')|join(',') }}|{{ msgs|selectattr('role', 'equalto', 'user')|list|length }}|{{ msgs|rejectattr('role', 'eq', 'user')|map(attribute='content')|first }}|{{ xs|select('odd')|list }}|{{ xs|reject('equalto', 1)|list }}|{{ words|map('upper')|join }}", V),
    ("default", "{{ u|default('dflt') }}|{{ n|default('dflt') }}|{{ ''|default('e', true) }}|{{ u|d('x') }}", V),
    ("tojson", "{{ d|tojson }}|{{ xs|tojson }}|{{ uni|tojson }}|{{ f|tojson }}|{{ n|tojson }}|{{ t|tojson }}|{{ {'a': {}, 'b': [], 'c': [1, {'d': 1.0}]}|tojson(indent=2) }}|{{ d|tojson(sort_keys=true) }}|{{ 'x'|tojson }}|{{ 1e20|tojson }}|{{ -0.0|tojson }}", V),
    ("tojson-indent-str", "{{ {'a': [1]}|tojson(indent='\t') }}|{{ {'a': [1]}|tojson(separators=(',', ':')) }}|{{ [1,2]|tojson(indent=0) }}", V),
    ("methods", "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.strip(' H') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ s.startswith('  He') }}{{ s.endswith(('x', '  ')) }}|{{ 'aXbX'.replace('X', '-') }}|{{ 'ab'.upper() }}{{ 'AB'.lower() }}|{{ \"they're bill's\".title() }}|{{ 'abcabc'.find('c') }}{{ 'abc'.count('b') }}|{{ '-'.join(['x','y']) }}|{{ d.get('z') }}{{ d.get('q', 'none') }}{{ d.keys()|list }}{{ d['items'] }}", V),
    ("slicing", "{{ xs[1:] }}{{ xs[:-1] }}{{ xs[::-1] }}{{ xs[::2] }}{{ s[2:7] }}{{ uni[::-1] }}{{ xs[-1] }}{{ xs[10] }}{{ 'abc'[1] }}", V),
    ("operators", "{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 7 // 2 }}{{ -7 // 2 }}{{ 7 % 3 }}{{ -7 % 3 }}|{{ 7 / 2 }}{{ 4 / 2 }}|{{ 2 ** 10 }}{{ 2 ** -1 }}|{{ 1 + 2.5 }}|{{ 'a' ~ 1 ~ n ~ t ~ u }}|{{ 'ab' * 2 }}|{{ [1] + [2] }}|{{ 0.1 + 0.2 }}|{{ 1e-5 }}{{ 1.5e300 }}{{ 1e16 }}{{ 123456.0 }}|{{ -i }}|{{ t + 1 }}", V),
    ("compare-logic", "{{ 1 < 2 < 3 }}{{ 1 == 1.0 }}{{ 'a' < 'b' }}{{ [1,2] < [1,3] }}{{ 'a' in 'cat' }}{{ 2 in xs }}{{ 'z' in d }}{{ 'q' not in d }}{{ t and 'yes' }}{{ n or 'fallback' }}{{ not u }}{{ 0 or '' or 'last' }}{{ 1 and 0 }}", V),
    ("ternary", "{{ 'a' if t else 'b' }}{{ 'a' if n else 'b' }}{{ 'x' if false }}{{ (1 if t else 2) + 1 }}", V),
    ("literals", "{{ [1, 'a', none, true, 2.0] }}{{ {'k': 'v', 'n': [1]} }}{{ ('a', 'b')|join }}{{ \"it's\" }}{{ 'say \"hi\"' }}{{ 'a' 'b' }}{{ 1_000 }}{{ 'tab\\there\\u00e9' }}", V),
    ("print-values", "{{ n }}|{{ t }}|{{ f }}|{{ i }}|{{ u }}|{{ d }}|{{ msgs[0] }}|{{ [uni] }}|{{ 10.0 }}|{{ 1/3 }}", V),
    ("attr-undefined-chain", "{{ msgs[0].missing }}|{{ msgs[5] }}|{{ d.nope is defined }}|{{ msgs[0]['role'] }}{{ msgs[1].content }}", V),
    ("strftime", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %A %B %j') }}", {}),
    ("range-dict", "{% for i in range(3) %}{{ i }}{% endfor %}{{ range(1, 10, 3)|list }}{{ dict(a=1, b=2) }}", {}),
    ("ws-combos", "{% for x in xs -%}\n  [{{ x }}]\n{%- endfor %}\n{{- '|' -}}\n\n{% if true %}\t\tA{% endif %}\n  B  {%- if true -%}  C  {%- endif %}  \n", V),
    ("ws-lstrip-tabs", "line\n\t \t{% if true %}x{% endif %}\n  text {% if true %}y{% endif %}\n{{ 'z' }}\n   {{ 'v' }}", V),
    ("ws-start-indent", "    {% if true %}a{% endif %}   \n{% if true %}  \n{% endif %}b", V),
    ("ws-trailing-newlines", "a\n\n", V),
    ("ws-crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", V),
    ("ws-comment-trim", "a\n  {# c #}\n  b\n{#- x -#}\n\n c", V),
    ("nested-loops", "{% for a in [1,2] %}{% for b in 'xy' %}{{ loop.index }}{{ a }}{{ b }}{% if loop.last %};{% endif %}{% endfor %}{{ loop.index }}|{% endfor %}", V),
    ("macro-nested", "{% macro inner(x) %}<{{ x }}>{% endmacro %}{% macro outer(a, b=a ~ '!') %}{{ inner(a) }}{{ b }}{% endmacro %}{{ outer('q') }}{{ outer('r', 's') }}{% for m in msgs %}{{ inner(m.role) }}{% endfor %}", V),
    ("set-tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = (3, 4) %}{{ c|join }}", V),
    ("escapes", "{{ '\\x41\\101\\u4e2d' }}|{{ \"a\\\\b\" }}|{{ 'q\\'s' }}", V),
    ("dict-literals", "{{ {'a': 'b'}['a'] }}{{ {'n': {'m': [1, {'k': none}]}} }}{{ d.a.1 }}{{ d['a'][0] }}", V),
    ("tests-more", "{{ 2 is in xs }}{{ 'ab' is lower }}{{ 'AB' is upper }}{{ n is sameas none }}{{ t is sameas true }}{{ xs is not mapping }}{{ 1 is eq 1.0 }}{{ 3 is gt 2 }}{{ 3 is lessthan 2 }}{{ msgs[0] is mapping }}{{ 'x' is callable }}{{ raise_exception is callable }}{{ strftime_now is defined }}", V),
    ("filters-more", "{{ u|items|list }}|{{ 'héllo'|list }}|{{ d|length }}|{{ d|join(',') }}|{{ 'abc'|first }}{{ 'abc'|last }}|{{ 'straße'|upper }}|{{ -3|abs }}{{ -2.5|abs }}|{{ [1.5, 2]|sum }}|{{ 2.5|round }}{{ 3.14159|round(2) }}{{ 3.5|round }}{{ 2.567|round(1, 'floor') }}|{{ d|dictsort|map('first')|join }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'one two  three'|wordcount }}|{{ xs|map('string')|join('-') }}|{{ [none, 0, 'a']|select|list }}", V),
    ("tojson-more", "{{ ['\\u0001\\u007f', 'é', '\\u2028'] |tojson }}|{{ {'b': 1, 'a': {'y': [], 'x': {}}}|tojson(indent=3) }}|{{ [[[]]]|tojson(indent=1) }}|{{ 'é'|tojson(ensure_ascii=true) }}|{{ 12.0|tojson }}{{ 3|tojson }}|{{ msgs|tojson }}", V),
    ("floats", "{{ 3.0 }} {{ 1e100 }} {{ 2**62 }} {{ 0.000123 }} {{ 100.0 / 3 }} {{ 5e-324 }} {{ 1.7976931348623157e308 }} {{ 1e15 }} {{ 123456789.123 }} {{ 0.5 }} {{ -1.5e-7 }} {{ 2.0 ** 70 }} {{ 7 / 7 }} {{ 1e22 }}", V),
    ("precedence", "{{ 2 * 3 ** 2 }}|{{ -2 ** 2 }}|{{ 10 - 3 - 2 }}|{{ 'x' if 0 else 'y' if 0 else 'z' }}|{{ xs[0:1] + xs[1:] }}|{{ -1|abs }}|{{ not xs|length }}|{{ 1 + 2 ~ 'a' if false else 'ok' }}|{{ (1 ~ 2) ~ 3 }}|{{ 2 + 3 * 4 % 5 }}|{{ 17 // 5 * 5 }}", V),
    ("strings-misc", "{% for c in 'héllo' %}{{ c }}.{% endfor %}{{ '' in 'abc' }}{{ 'Ab' ~ 'Cd' }}{{ s.split(',')[1].strip() }}{{ 'a-b-c'.split('-', 1) }}{{ '  x y  '.rsplit(None, 1) }}{{ 'hello world'.replace('o', '0', 1) }}{{ 'ABC'.lower().startswith('ab') }}", V),
    ("scope-after-loop", "{% for m in msgs %}{% set last = m %}{% endfor %}[{{ last }}]{% set top = 1 %}{% if true %}{% set top = 2 %}{% endif %}{{ top }}", V),
    ("dict-iteration", "{% for k in d %}{{ k }}{% endfor %}|{% for k, v in d|dictsort %}{{ k }}{% endfor %}|{{ d.values()|list|length }}", V),
    ("defined-and", "{% if u is defined and u %}bad{% elif xs is defined and xs %}good{% endif %}{% if n %}x{% else %}{{ n is none }}{% endif %}", V),
    ("none-attr", "[{{ n.x }}][{{ xs.nope }}]", V),
    ("err-undefined-attr", "{{ u.x }}", V),
    ("err-undefined-item", "{{ msgs[3].role }}", V),
    ("err-type-concat", "{{ 'a' + 1 }}", V),
    ("err-undefined-add", "{{ u + 'a' }}", V),
    ("err-compare", "{{ 'a' < 1 }}", V),
    ("err-call-undefined", "{{ nothing() }}", V),
    ("err-tojson-undefined", "{{ u|tojson }}", V),
    ("err-iterate-none", "{% for x in n %}{% endfor %}", V),
    ("qwen3-style", "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}\n{%- for message in messages[::-1] %}\n    {%- set index = (messages|length - 1) - loop.index0 %}\n    {%- if ns.multi_step_tool and message.role == \"user\" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}\n        {%- set ns.multi_step_tool = false %}\n        {%- set ns.last_query_index = index %}\n    {%- endif %}\n{%- endfor %}\n{%- for message in messages %}\n    {%- if message.content is string %}\n        {%- set content = message.content %}\n    {%- else %}\n        {%- set content = '' %}\n    {%- endif %}\n    {%- if message.role == \"assistant\" %}\n        {%- set reasoning_content = '' %}\n        {%- if message.reasoning_content is string %}\n            {%- set reasoning_content = message.reasoning_content %}\n        {%- else %}\n            {%- if '</think>' in content %}\n                {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}\n                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}\n            {%- endif %}\n        {%- endif %}\n        {%- if loop.index0 > ns.last_query_index %}\n            {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}\n        {%- else %}\n            {{- '<|im_start|>' + message.role + '\\n' + content }}\n        {%- endif %}\n        {%- if message.tool_calls %}\n            {%- for tool_call in message.tool_calls %}\n                {%- if (loop.first and content) or (not loop.first) %}{{- '\\n' }}{%- endif %}\n                {%- if tool_call.function %}{%- set tool_call = tool_call.function %}{%- endif %}\n                {{- '<tool_call>\\n{\"name\": \"' }}{{- tool_call.name }}{{- '\", \"arguments\": ' }}\n                {%- if tool_call.arguments is string %}{{- tool_call.arguments }}{%- else %}{{- tool_call.arguments | tojson }}{%- endif %}\n                {{- '}\\n</tool_call>' }}\n            {%- endfor %}\n        {%- endif %}\n        {{- '<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n    {%- if enable_thinking is defined and enable_thinking is false %}\n        {{- '<think>\\n\\n</think>\\n\\n' }}\n    {%- endif %}\n{%- endif %}\n", {"add_generation_prompt": True, "enable_thinking": False, "messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4", "tool_calls": [{"function": {"name": "calc", "arguments": "{\"x\": 1}"}}, {"name": "calc2", "arguments": {"y": [1.5]}}]}, {"role": "user", "content": "<tool_response>ok</tool_response>"}, {"role": "assistant", "content": [{"type": "text"}]}]}),
    ("deepseek-style", "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{ bos_token }}{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor -%}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}", {"bos_token": "<s>", "add_generation_prompt": True, "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>x</think>ans"}, {"role": "user", "content": "q2"}]}),
    ("mistral-nemo-style", "{%- if messages[0][\"role\"] == \"system\" %}{%- set system_message = messages[0][\"content\"] %}{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto\", \"user\") | list %}{%- for message in loop_messages | rejectattr(\"role\", \"equalto\", \"tool\") | rejectattr(\"role\", \"equalto\", \"tool_results\") | selectattr(\"tool_calls\", \"undefined\") %}{%- if (message[\"role\"] == \"user\") != (loop.index0 % 2 == 0) %}{{- raise_exception(\"alternate\") }}{%- endif %}{%- endfor %}{{- bos_token }}{%- for message in loop_messages %}{%- if message[\"role\"] == \"user\" %}{%- if loop.last and system_message is defined %}{{- \"[INST]\" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}{%- else %}{{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}{%- endif %}{%- elif message[\"role\"] == \"assistant\" %}{{- message[\"content\"] + eos_token}}{%- endif %}{%- endfor %}{{ user_messages|length }}", {"bos_token": "<s>", "eos_token": "</s>", "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]}),
    ("raise", "{% if true %}{{ raise_exception('Bad: ' ~ 42) }}{% endif %}", {}),
]
cases = real + [{"id": f"inline/{name}", "source": src, "variables": vars_} for name, src, vars_ in inline]
for case in cases:
    source = case.get("source")
    if source is None:
        source = open(os.path.join(HERE, "..", case["template_file"] + ".jinja"), encoding="utf-8").read()
    try:
        case["expected"] = env.from_string(source).render(**case["variables"])
    except jinja2.exceptions.TemplateError as e:
        if type(e) is jinja2.exceptions.TemplateError:
            case["expected_error"] = e.message
        else:
            case["expected_failure"] = type(e).__name__ + ": " + str(e)
    except Exception as e:
        case["expected_failure"] = type(e).__name__ + ": " + str(e)
with open(os.path.join(HERE, "extra-cases.json"), "w", encoding="utf-8") as out:
    json.dump(cases, out, ensure_ascii=False, indent=2)
    out.write("\n")
print(len(cases), "cases;", sum("expected_failure" in c for c in cases), "expected failures")
