// The segment condition builder: draws the condition JSON of the textarea beside it as nested
// groups of conditions (field, operator, value) with the fields of the registry, writes every
// change back into the textarea, and shows the live count from the preview endpoint. Without
// this script the textarea is edited as JSON.
"use strict";
(() => {
    const LIST_OPERATORS = ["in"];
    const PAIR_OPERATORS = ["between"];
    const DAY_OPERATORS = ["within_days", "before_days"];

    function element(tag, attributes = {}, children = []) {
        const node = document.createElement(tag);
        for (const [key, value] of Object.entries(attributes)) {
            if (key === "text") node.textContent = value;
            else node.setAttribute(key, value);
        }
        for (const child of children) node.append(child);
        return node;
    }

    function csrfToken() {
        const input = document.querySelector("input[name=csrfmiddlewaretoken]");
        return input ? input.value : "";
    }

    class Builder {
        constructor(root, textarea) {
            this.root = root;
            this.textarea = textarea;
            this.fields = JSON.parse(root.dataset.fields);
            this.byName = Object.fromEntries(this.fields.map((field) => [field.name, field]));
            this.operators = JSON.parse(root.dataset.operators);
            this.text = root.dataset;
            this.tree = this.parse(textarea.value);
            this.countNode = root.querySelector(".crm-condition-count");
            this.timer = null;
            textarea.hidden = true;
            this.render();
        }

        parse(text) {
            try {
                const value = JSON.parse(text || "{}");
                if (value && Array.isArray(value.conditions)) return value;
            } catch (error) {
                // Not JSON yet: start from an empty group.
            }
            return { logicalOperator: "and", conditions: [] };
        }

        render() {
            const container = this.root.querySelector(".crm-condition-tree");
            container.replaceChildren(this.group(this.tree, null));
            this.textarea.value = JSON.stringify(this.tree);
            this.scheduleCount();
        }

        group(node, parent) {
            const operator = element("select", { "aria-label": this.text.textAnd });
            for (const [value, label] of [["and", this.text.textAnd], ["or", this.text.textOr]]) {
                operator.append(element("option", { value, text: label }));
            }
            operator.value = node.logicalOperator || "and";
            operator.addEventListener("change", () => {
                node.logicalOperator = operator.value;
                this.render();
            });
            const children = node.conditions.map((child) =>
                Array.isArray(child.conditions) ? this.group(child, node) : this.leaf(child, node),
            );
            const add = element("button", { type: "button", text: this.text.textAdd });
            add.addEventListener("click", () => {
                const field = this.fields[0];
                node.conditions.push({ field: field.name, operator: field.operators[0], value: this.defaultValue(field, field.operators[0]) });
                this.render();
            });
            const addGroup = element("button", { type: "button", text: this.text.textAddGroup });
            addGroup.addEventListener("click", () => {
                node.conditions.push({ logicalOperator: "or", conditions: [] });
                this.render();
            });
            const tools = [operator, add, addGroup];
            if (parent) tools.push(this.removeButton(node, parent));
            return element("div", { class: "crm-cond-group" }, [
                element("div", { class: "crm-cond-row" }, tools),
                ...children,
            ]);
        }

        leaf(node, parent) {
            const field = this.byName[node.field] || this.fields[0];
            const fieldSelect = element("select", { "aria-label": "field" });
            const groups = {};
            for (const option of this.fields) {
                groups[option.group] = groups[option.group] || element("optgroup", { label: option.group });
                groups[option.group].append(element("option", { value: option.name, text: option.label }));
            }
            fieldSelect.append(...Object.values(groups));
            fieldSelect.value = field.name;
            fieldSelect.addEventListener("change", () => {
                const chosen = this.byName[fieldSelect.value];
                node.field = chosen.name;
                node.operator = chosen.operators[0];
                node.value = this.defaultValue(chosen, node.operator);
                this.render();
            });
            const operatorSelect = element("select", { "aria-label": "operator" });
            for (const operator of field.operators) {
                operatorSelect.append(element("option", { value: operator, text: this.operators[operator] || operator }));
            }
            operatorSelect.value = node.operator;
            operatorSelect.addEventListener("change", () => {
                node.operator = operatorSelect.value;
                node.value = this.defaultValue(field, node.operator);
                this.render();
            });
            return element("div", { class: "crm-cond-row" }, [
                fieldSelect,
                operatorSelect,
                ...this.valueInputs(field, node),
                this.removeButton(node, parent),
            ]);
        }

        valueInputs(field, node) {
            const set = (value) => {
                node.value = value;
                this.textarea.value = JSON.stringify(this.tree);
                this.scheduleCount();
            };
            if (PAIR_OPERATORS.includes(node.operator)) {
                const pair = Array.isArray(node.value) ? node.value : [null, null];
                return [0, 1].map((index) =>
                    this.input(field, pair[index], (value) => {
                        pair[index] = value;
                        set(pair);
                    }),
                );
            }
            if (LIST_OPERATORS.includes(node.operator) || (field.kind === "tags" && node.operator === "in")) {
                const text = Array.isArray(node.value) ? node.value.join(", ") : "";
                const input = element("input", { type: "text", value: text, placeholder: this.text.textListHint });
                input.addEventListener("input", () => {
                    const items = input.value.split(/[,，]/).map((item) => item.trim()).filter(Boolean);
                    set(items.map((item) => this.convert(field, item)));
                });
                return [input];
            }
            if (DAY_OPERATORS.includes(node.operator)) {
                return [this.input({ kind: "number" }, node.value, set)];
            }
            return [this.input(field, node.value, set)];
        }

        input(field, value, onChange) {
            if (field.kind === "choice" && field.choices) {
                const select = element("select");
                for (const choice of field.choices) {
                    select.append(element("option", { value: choice.value, text: choice.label }));
                }
                select.value = value ?? field.choices[0].value;
                select.addEventListener("change", () => onChange(select.value));
                return select;
            }
            const type = { number: "number", money: "number", month: "number", date: "date", datetime: "date" }[field.kind] || "text";
            const input = element("input", { type, value: value ?? "" });
            if (field.kind === "money") input.step = "0.01";
            input.addEventListener("input", () => onChange(this.convert(field, input.value)));
            return input;
        }

        convert(field, raw) {
            if (["number", "month"].includes(field.kind)) return raw === "" ? null : Number.parseInt(raw, 10);
            if (field.kind === "money") return raw === "" ? null : Number(raw);
            return raw;
        }

        defaultValue(field, operator) {
            if (PAIR_OPERATORS.includes(operator)) return [null, null];
            if (LIST_OPERATORS.includes(operator)) return [];
            if (DAY_OPERATORS.includes(operator)) return 30;
            if (field.kind === "choice" && field.choices) return field.choices[0].value;
            return null;
        }

        removeButton(node, parent) {
            const button = element("button", { type: "button", text: this.text.textRemove });
            button.addEventListener("click", () => {
                parent.conditions.splice(parent.conditions.indexOf(node), 1);
                this.render();
            });
            return button;
        }

        scheduleCount() {
            window.clearTimeout(this.timer);
            this.timer = window.setTimeout(() => this.count(), 400);
        }

        async count() {
            if (!this.tree.conditions.length) {
                this.countNode.textContent = "";
                return;
            }
            this.countNode.textContent = this.text.textCounting;
            const response = await fetch(this.root.dataset.previewUrl, {
                method: "POST",
                headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
                body: JSON.stringify({ condition: this.tree }),
            });
            const body = await response.json();
            this.countNode.classList.toggle("crm-error", !body.success);
            this.countNode.textContent = body.success
                ? `${body.data.count.toLocaleString()} ${this.text.textCount}`
                : body.error.message;
        }
    }

    document.addEventListener("DOMContentLoaded", () => {
        for (const root of document.querySelectorAll(".crm-condition-builder")) {
            const textarea = root.parentElement.querySelector("textarea");
            if (textarea) new Builder(root, textarea);
        }
    });
})();
