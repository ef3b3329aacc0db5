// Checks Teams Workflows messages with Microsoft's Adaptive Cards library (npm `adaptivecards`, the
// renderer Teams' web client is built on), as Adaptive Cards 1.4:
//   node tests/cards/validate.js messages.json      (a JSON array of {name, message})
// A card fails when the library reports anything while parsing it for version 1.4 (an unknown or
// newer element, an invalid value), when its validation finds a problem (a required property that
// is missing, such as an Action.OpenUrl's url), or when serialising it back for 1.4 does not give
// the same JSON (a property the library does not know for 1.4 is dropped there).
// Prints one line per failure; exits 1 when any card failed, 2 on a usage error.
"use strict";

const fs = require("fs");
const path = require("path");
// The UMD bundle: the package's `main` (lib/) is ES modules with extensionless imports, which
// Node cannot load.
const AC = require(path.join(__dirname, "node_modules", "adaptivecards", "dist", "adaptivecards.js"));

function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value).sort()) out[key] = canonical(value[key]);
    return out;
  }
  return value;
}

function problems(message) {
  const found = [];
  if (message.type !== "message" || !Array.isArray(message.attachments) || message.attachments.length !== 1) {
    return ["not a Workflows message with one attachment"];
  }
  const attachment = message.attachments[0];
  if (attachment.contentType !== "application/vnd.microsoft.card.adaptive") {
    found.push(`attachment contentType ${JSON.stringify(attachment.contentType)}`);
  }
  const content = attachment.content;
  if (!content || content.type !== "AdaptiveCard" || content.version !== "1.4") {
    return found.concat(["the content is not an AdaptiveCard of version 1.4"]);
  }
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext(AC.Versions.v1_4);
  card.parse(content, context);
  for (let i = 0; i < context.eventCount; i++) {
    found.push(`parse: ${context.getEventAt(i).message}`);
  }
  for (const event of card.validateProperties().validationEvents) {
    found.push(`validation: ${event.message}`);
  }
  const again = card.toJSON(new AC.SerializationContext(AC.Versions.v1_4));
  const [sent, kept] = [JSON.stringify(canonical(content)), JSON.stringify(canonical(again))];
  if (sent !== kept) {
    found.push(`not kept as sent for 1.4:\n  sent ${sent}\n  kept ${kept}`);
  }
  return found;
}

function main() {
  if (process.argv.length !== 3) {
    console.error("usage: node validate.js messages.json");
    process.exit(2);
  }
  const items = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  let failed = 0;
  for (const { name, message } of items) {
    const found = problems(message);
    if (found.length > 0) {
      failed++;
      console.log(`${name}: ${found.join("; ")}`);
    }
  }
  console.log(`${items.length - failed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

main();
