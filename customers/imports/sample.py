"""A sample customer file for measuring the import: Chinese names, unique valid mobile numbers,
one bad row in 100 (bad phone, missing name, bad e-mail or impossible birthday, in turn).

    uv run python -m customers.imports.sample 100000 /tmp/cust100k.csv
"""

import csv
import random
import sys


def main(n: int, out: str) -> None:
    random.seed(4)
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
    given = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
    prefixes = ["138", "139", "135", "136", "137", "150", "151", "152", "186", "187", "188", "158"]
    with open(out, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["姓名", "手机号", "邮箱", "性别", "生日", "标签", "来源", "注册日期"])
        for i in range(n):
            name = random.choice(surnames) + "".join(random.choices(given, k=random.choice([1, 2])))
            phone = prefixes[i % len(prefixes)] + f"{i:08d}"
            email = f"user{i}@example.com" if i % 3 == 0 else ""
            row = [
                name,
                phone,
                email,
                random.choice(["男", "女", ""]),
                f"19{random.randint(60, 99)}-0{random.randint(1, 9)}-1{random.randint(0, 9)}",
                random.choice(["", "VIP", "常客,川菜", "老客户"]),
                random.choice(["", "到店", "dine_in", "wechat"]),
                "2024-03-01",
            ]
            if i % 100 == 50:
                kind = (i // 100) % 4
                if kind == 0:
                    row[1] = "12345"
                elif kind == 1:
                    row[0] = ""
                elif kind == 2:
                    row[2] = "not-an-email"
                else:
                    row[4] = "1990-13-45"
            w.writerow(row)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
