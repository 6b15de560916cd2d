"""The course's debate exercise as a student would write it in Python: the `openai` package and
plain sequential calls, the scheme of Du et al. (2023) that `:debate` implements.

For each question: every agent answers (round 1); in rounds 2..R each agent sees the other agents'
previous-round answers and answers again, keeping its own conversation; then one final-answer
call reads every round. Agents cycle over `--models`; the final call uses the first model.
2 agents x 3 rounds x 5 questions + 5 final calls = 35 calls, as `:debate --suite course` makes.

    python bench/reference_debate.py --base-url http://127.0.0.1:1234/v1 --models bench-a,bench-b

Prints one JSON line: {"elapsed_s", "calls", ...}. The timing covers creating the client and
the call loop, not Python's start-up or imports.
"""

import argparse
import json
import os
import re
import time

import openai

# The course suite, copied from src/lab/debate.rs (`course_suite`).
COURSE_SUITE = [
    "What is the sum of the first 100 natural numbers?",
    "A woman needs 9 months to give birth to a child. How long does it take for 9 women to give birth to one child?",
    "I hang 7 shirts out to dry in the Sun. After 5 hours, all shirts are dry. The next day I hang 14 shirts out to dry. The conditions are the same. How long will it take to dry 14 shirts?",
    "A farmer with a wolf, a goat, and a cabbage must cross a river by boat. The boat can carry only the farmer and a single item. If left unattended together, the wolf would eat the goat, or the goat would eat the cabbage. How can they cross the river without anything being eaten? Give the crossings as a numbered list.",
    "How can you physically stand behind your father while he is standing behind you?",
]

# The prompts, as the kernel words them (src/lab/debate.rs, long update prompt).
ANSWER_FORMAT = 'State your final answer at the end of your response, on its own line, in the form "Answer: ...".'


def first_prompt(question):
    return f"{question}\n\nExplain your reasoning. {ANSWER_FORMAT}"


def update_prompt(others):
    text = "These are the solutions to the problem from other agents:\n"
    for answer in others:
        text += f"\nOne agent solution: ```{answer.strip()}```\n"
    text += ("\nUsing the reasoning from other agents as additional advice, can you give an updated answer? "
             "Examine your solution and that of the other agents step by step. " + ANSWER_FORMAT)
    return text


def final_prompt(question, rounds):
    text = f"A group of agents debated the following question over {len(rounds)} rounds.\n\nQuestion: {question}\n"
    for r, answers in enumerate(rounds):
        text += f"\nRound {r + 1}:\n"
        for a, answer in enumerate(answers):
            text += f"Agent {a + 1}: ```{answer.strip()}```\n"
    text += f"\nBased on all of these answers, decide on the final answer to the question. Explain briefly. {ANSWER_FORMAT}"
    return text


def extract(text):
    found = re.findall(r"answer:\s*(.+)", text, flags=re.IGNORECASE)
    return found[-1].strip().rstrip(".") if found else None


def run(base_url, models, agents, rounds, max_tokens, temperature, seed, questions):
    calls = 0
    client = openai.OpenAI(base_url=base_url, api_key="x")

    def ask(model, messages, call_seed):
        nonlocal calls
        calls += 1
        resp = client.chat.completions.create(
            model=model, messages=messages, temperature=temperature, max_tokens=max_tokens, seed=call_seed,
        )
        return resp.choices[0].message.content or ""

    finals = []
    for qi, question in enumerate(questions):
        contexts = [[] for _ in range(agents)]
        history = []  # history[r][a]: agent a's answer in round r
        for r in range(rounds):
            answers = []
            for a in range(agents):
                if r == 0:
                    prompt = first_prompt(question)
                else:
                    others = [t for i, t in enumerate(history[-1]) if i != a]
                    prompt = update_prompt(others)
                contexts[a].append({"role": "user", "content": prompt})
                text = ask(models[a % len(models)], contexts[a], seed + qi * 1_000_003 + a * 1_009 + r)
                contexts[a].append({"role": "assistant", "content": text})
                answers.append(text)
            history.append(answers)
        final = ask(models[0], [{"role": "user", "content": final_prompt(question, history)}], seed + qi * 1_000_003 + 999 * 1_009 + 999)
        finals.append(extract(final))
    return calls, finals


def main():
    ap = argparse.ArgumentParser(description="Sequential multi-agent debate with the openai package (reference for bench/course_speed.py)")
    ap.add_argument("--base-url", default=os.environ.get("ALIGNMENT_LAB_BASE_URL", "http://localhost:1234/v1"))
    ap.add_argument("--models", default=os.environ.get("ALIGNMENT_LAB_MODEL", "bench-a"), help="comma-separated, cycled over agents")
    ap.add_argument("--agents", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]

    t0 = time.perf_counter()
    calls, finals = run(args.base_url, models, args.agents, args.rounds, args.max_tokens,
                        args.temperature, args.seed, COURSE_SUITE)
    elapsed = time.perf_counter() - t0
    print(json.dumps({
        "kind": "reference-debate", "elapsed_s": elapsed, "calls": calls, "models": models,
        "agents": args.agents, "rounds": args.rounds, "questions": len(COURSE_SUITE),
        "max_tokens": args.max_tokens, "final_answers": finals,
    }), flush=True)


if __name__ == "__main__":
    main()
