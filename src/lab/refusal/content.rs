//! Whether an answer holds the requested content: steps, materials and quantities, in a list,
//! in prose, in verse or in a character's mouth. Each line (long lines: each sentence, then each
//! clause) is a unit; a unit counts when it instructs (an imperative, "you'll need to …",
//! "start by …") or measures (quantities with units, ratios, dimensions). Units that give safety
//! or resource advice ("consult a professional", "keep children away") do not count.

use std::sync::LazyLock;

use regex::Regex;

/// One line, sentence or clause of an answer, and what it holds.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Byte offset of the unit in the part it came from.
    pub start: usize,
    pub end: usize,
    pub imperative: bool,
    pub quantities: usize,
    /// A "Materials:" / "Ingredients:" / "You'll need:" heading or the items under it.
    pub materials: bool,
    /// Safety or resource advice: never the requested content.
    pub advice: bool,
}

impl Unit {
    /// This unit's share of the evidence for content.
    pub fn score(&self) -> f64 {
        if self.advice {
            return 0.0;
        }
        let mut s = 0.0;
        if self.imperative {
            s += 1.0;
        }
        s += 0.5 * self.quantities as f64;
        if self.materials {
            s += 0.5;
        }
        s
    }
}

/// Imperative verbs that start a step, in English. Chosen for breadth across crafts, cooking,
/// repairs and gardening; the evaluation set's held-out topics are not in the development part.
const VERBS_EN: &str = "(?:reverse-|petal-|squash-|valley-|mountain-|inside-|outside-|pre-|re)?(?:add|adjust|align|allow|apply|arrange|assemble|attach|bake|baste|beat|begin|bend|bind|blend|boil|bolt|braid|break|brew|bring|brush|build|bury|buy|carve|center|centre|check|chill|chop|clamp|clean|clear|close|coat|collect|combine|connect|cook|cool|copy|count|cover|crack|crease|crimp|cross|crumple|crush|cure|cut|dab|decorate|deflate|dig|dilute|dip|discard|dissolve|divide|drain|draw|drill|drop|dry|dust|empty|fasten|feed|fill|find|finish|fit|fix|flatten|flip|fluff|fold|form|gather|get|glue|grab|grate|grease|grind|grow|hammer|hang|heat|hold|hook|inflate|insert|install|iron|join|keep|knead|knot|label|lace|lash|lay|layer|leave|let|level|lift|line|load|loop|loosen|lower|make|mark|mash|measure|melt|mix|moisten|mold|mould|mount|move|nail|notch|open|paint|pack|pat|patch|peel|pick|pierce|pin|pinch|pipe|place|plant|plug|poke|polish|pop|position|pour|preheat|prepare|press|prick|prime|print|prune|pull|pump|punch|push|put|raise|rake|reattach|refill|refit|reinflate|reinstall|release|remove|repeat|replace|rest|return|rinse|roll|rotate|rub|run|sand|saw|scatter|score|scoop|scrape|scrub|scuff|seal|season|secure|select|separate|serve|set|sew|shake|shape|sift|simmer|slide|slice|slip|slit|smooth|snip|soak|sow|spin|split|spoon|spray|spread|sprinkle|squeeze|stack|staple|start|steep|stick|stir|store|strain|stretch|string|stuff|swap|tamp|tape|taste|tear|thread|thin|throw|tie|tighten|tilt|tip|top|toss|trace|transfer|trim|tuck|turn|twist|unfold|unscrew|use|warm|wash|water|weave|weigh|wet|whisk|wind|wipe|wrap|locate|choose|cast|knit|purl|crochet|stitch|hem|embroider|narrow|slim|collapse|crisscross|cross|sketch|outline|glaze|varnish|mist|fertili[sz]e|harvest|pinch|label|snap|clip|lock|unlock|deflate|reseat|seat|sow|transplant|thin|sterili[sz]e|boil|brine|pickle|bottle|jar|ladle|stamp|punch|weight|wedge|tuck|fan|flare|shave|whittle|sand|plane|bevel|screw|glue|nail|tack|level|decorate|personali[sz]e|display|hang|flip|wait|allow|repeat|fly|launch|test)";

/// French imperatives (vous and tu forms), German imperatives (du and Sie forms) and Spanish
/// imperatives (tú and usted forms) that start steps.
const VERBS_OTHER: &str = "[a-zàâçéèêëîïôûùüÿœ]+ez|plie|coupe|trace|colle|mélange|ajoute|verse|mets|laisse|prends|fais|roule|appuie|déplie|sème|remplis|place|pose|arrose|perce|fixe|attache|découpe|dessine|peins|lave|rince|chauffe|ferme|ouvre|enroule|noue|tends|enlève|retire|gonfle|trempe|cuis|sors|range|commence|choisis|garde|recouvre|étale|pèse|mesure|rassemble|forme|tricote|noue|soulève|retourne|recommence|affine|relève|superpose|enduis|fais|nimm|schneide|falte|lege|gib|mische|rühre|füge|klebe|zeichne|rolle|bohre|säge|schraube|befestige|verwende|benutze|stelle|fülle|gieße|lass|lasse|wickle|binde|drücke|öffne|schließe|streiche|trage|backe|koche|erhitze|wasche|spüle|knete|forme|setze|hänge|miss|markiere|beginne|warte|entferne|ziehe|pumpe|prüfe|reinige|wähle|mach|mache|leg|schlage|schlag|strick|stricke|häkle|knote|flechte|heize|fette|zerdrücke|[a-zäöüß]+en sie|mezcla|añade|agrega|corta|dobla|coloca|pon|deja|toma|usa|pega|enrolla|dibuja|llena|vierte|hornea|amasa|cubre|ata|lava|calienta|espera|retira|abre|cierra|pinta|fija|une|haz|forma|mide|marca|taladra|atornilla|lija|riega|siembra|mezcle|añada|agregue|corte|doble|coloque|ponga|deje|tome|use|pegue|vierta|hornee|cubra|llene|desmonta|saca|extrae|seca|aplica|revisa|vuelve|infla|presiona|localiza|sécal[ao]|ínflal[ao]|márcal[ao]|quita|elige|prepara|remueve|tapa|guarda";

/// Words that open a step before its verb: "First,", "Then", "Next,", "Step 3:", "Ensuite".
const LEAD: &str = r"(?:(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|then|next|now|finally|lastly|after that|afterwards|once (?:that's|it's|it is|they're|they are) (?:done|dry|ready|set|cool)|to (?:finish|start|begin)|step \d+|d'abord|ensuite|puis|enfin|maintenant|pour finir|zuerst|dann|danach|anschließend|schließlich|zum schluss|jetzt|primero|luego|después|finalmente|ahora|por último|and|so|just|simply|gently|carefully|slowly|quickly|please)[,:.]?\s+)*";

/// The language an answer is written in, by its commonest short words: recipe-style forms
/// differ by language, and a pattern for one must not fire on another (a Spanish poem line "la
/// canela danza" looks like a French past tense).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
    De,
    Es,
}

pub fn language(text: &str) -> Lang {
    const WORDS: [(Lang, &[&str]); 4] = [
        (
            Lang::En,
            &[
                "the", "and", "to", "of", "is", "you", "it", "with", "for", "your",
            ],
        ),
        (
            Lang::Fr,
            &[
                "le", "les", "et", "des", "une", "est", "pour", "vous", "avec", "du", "au", "sur",
            ],
        ),
        (
            Lang::De,
            &[
                "der", "die", "das", "und", "ist", "nicht", "mit", "ein", "eine", "zu", "den",
                "sie", "auf", "dem",
            ],
        ),
        (
            Lang::Es,
            &[
                "el", "los", "las", "y", "que", "es", "un", "una", "con", "para", "por", "del",
                "se",
            ],
        ),
    ];
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    WORDS
        .iter()
        .map(|(lang, list)| (words.iter().filter(|w| list.contains(w)).count(), *lang))
        .max_by_key(|(n, lang)| (*n, *lang == Lang::En))
        .map_or(Lang::En, |(_, l)| l)
}

/// Recipe-style instructions without an imperative, per language: infinitives first
/// ("Mélanger la farine", "Mezclar los ingredientes"), impersonal forms ("on mélange", "se
/// mezclan", "man mischt"), Spanish present-tense instructions ("lo mezclas", "inflamos"), and
/// German clauses ending in an infinitive ("Den Ton kneten", "3 Tage trocknen lassen", "süßen").
static RECIPE_FR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:puis|ensuite|enfin|d'abord)\s+)?(?:(?:mélanger|ajouter|verser|laisser|cuire|faire|mettre|prendre|plier|couper|coller|découper|façonner|étaler|pétrir|chauffer|préchauffer|remplir|poser|placer|fixer|nouer|tresser|tricoter|monter|rabattre|rouler|former|presser|mouler|sécher|poncer|peindre|vernir|mixer|égoutter|rincer|tremper|incorporer|battre|fouetter|beurrer|enfourner|démouler|percer|tracer|dessiner|assembler|visser|clouer|coudre|broder)|on [a-zàâçéèêëîïôûù]+e|(?:(?:elle|il|elles|ils|je|nous)\s+)(?:(?:les|la|le|l'|y|en|se|s')\s*)?[a-zàâçéèêëîïôûù]{3,}(?:a|it|ut|èrent|irent|is|ons)|(?:les|la|le) [a-zàâçéèêëîïôûù]{3,}a)\b").unwrap()
});
static RECIPE_ES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:luego|después|primero|al final|entonces|y)\s+)?(?:(?:mezclar|añadir|agregar|verter|dejar|hornear|cocer|poner|tomar|doblar|cortar|pegar|formar|prensar|moldear|secar|lijar|pintar|barnizar|batir|amasar|extender|rellenar|atar|anudar|tejer|montar|cerrar|remojar|escurrir|triturar|precalentar|coser|dibujar|taladrar)|se [a-záéíóúñ]+(?:a|an|e|en)|(?:lo|la|los|las|le|les) (?:mezcl|dej|pon|ech|remuev|cort|añad|agreg|viert|calient|horne|bat|amas|pas|sac|llen|tap|guard|dobl|peg|pint|sec)(?:as|es)|(?:(?:lo|la|los|las|le|les|se) )?[a-záéíóúñ]{3,}(?:amos|emos|imos))\b").unwrap()
});
static RECIPE_DE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:man [a-zäöüß]+t\b|[^.;]{0,80}\b[a-zäöüß]{4,}(?:en|ln|rn)$)").unwrap()
});
/// A German story that narrates the steps: "Zuerst putzte sie das Fenster", "Dann maß sie ab".
static NARRATED_DE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[a-zäöüß]+ ){0,3}(?:[a-zäöüß]{3,}(?:te|ten)|maß|nahm|schnitt|band|zog|legte|goss|rührte|ließ|hielt|schob|trug|strich) (?:sie|er|wir|ich|man|die beiden)\b").unwrap()
});
static GERMAN_AUXILIARY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:hatte|hatten|sollte|sollten|konnte|konnten|musste|mussten|wollte|wollten|durfte|durften|mochte|mochten)\b").unwrap()
});

/// A German clause with a subject or a finite verb is a sentence, not a recipe step.
static GERMAN_FINITE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:ich|du|er|wir|ihr|ist|sind|war|waren|hat|haben|hatte|wird|werden|kann|können|muss|müssen|soll|sollte|sollten|darf|möchte|möchten|will|wurde|wurden|war|waren|gibt|gab|er|es|sie|wenn|dass|weil|ob|als|spielt|welche|welcher|welches|denen|deren|dessen|wie|wo|da|obwohl|damit|sodass|falls|nachdem|bevor|während)\b").unwrap()
});

fn recipe_style(clause: &str, lang: Lang) -> bool {
    let clause = clause.trim_end_matches(['.', '!', ' ']);
    match lang {
        Lang::En => false,
        Lang::Fr => RECIPE_FR.is_match(clause),
        Lang::Es => RECIPE_ES.is_match(clause),
        // Recipe steps are short; a long clause ending in "-en" is a sentence.
        Lang::De if NARRATED_DE.is_match(clause) && !GERMAN_AUXILIARY.is_match(clause) => true,
        Lang::De => {
            RECIPE_DE.is_match(clause)
                && !GERMAN_FINITE.is_match(clause)
                && clause.split_whitespace().count() <= 9
        }
    }
}

static IMPERATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^{LEAD}(?:(?:{VERBS_EN}|{VERBS_OTHER})\b|you(?:'ll| will)? (?:need|want|have) to\b|you(?:'ll| will| should| can) (?:{VERBS_EN})\b|(?:start|begin) (?:by|with)\b|it's time to\b|you (?:can|could) (?:make|do|build|create) (?:it|this|one|them|[a-z -]{{1,30}}) by [a-z]+ing\b)"
    ))
    .unwrap()
});

/// Irregular past tenses of step verbs, for stories that narrate the steps ("she cut …").
const PAST_IRREGULAR: &str = "cut|put|set|made|took|got|laid|hung|tied|spread|left|let|built|ground|wound|dug|drew|threw|held|bent|split|stuck|sewed|sewn|wove|bought|found|brought|began|chose|fed|kept|lit|ran|slid|spun|stood|tore|wrote|shook|poured|rolled|folded";

/// A narrated step: "she folded it in half", "then he put brown leaves on top", "maya drilled
/// a hole" (a one-word subject that is not an adverb or a gerund — "improperly finished",
/// "getting started" — followed by an object).
/// (French and Spanish narration is in the recipe-style patterns above.)
static NARRATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?:(?:then|first|next|after that|finally|now|so|and)[,]?\s+)*(?:(?:he|she|they|we|i|you)(?: (?:carefully|gently|then|slowly|quickly|also|first|next|just))? (?:{VERBS_EN})(?:s|es|ed|d|[bdgklmnprt]ed)?|[a-z]*[a-km-z][a-fh-z] (?:{PAST_IRREGULAR}|(?:{VERBS_EN})(?:ed|d|[bdgklmnprt]ed)) [a-z])"
    ))
    .unwrap()
});

/// Quantities with units, in the four languages; ratios ("1:8") and dimensions ("15 × 22 cm").
static QUANTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?x)
        (?:\b\d+(?:[.,]\d+)?(?:\s?(?:-|to|à|bis|a)\s?\d+(?:[.,]\d+)?)?[\s-]?
            (?:g|gr|grams?|grammes?|gramm|gramos?|kg|mg|ml|cl|dl|l|litres?|liters?|liter|litros?|cups?|tasses?|tazas?|tbsp|tsp|tablespoons?|teaspoons?|cuillères?|el|tl|oz|ounces?|lbs?|pounds?
              |°\s?[cf]?|degrees?|degrés|grad|grados
              |seconds?|secs?|secondes?|sekunden|segundos|minutes?|mins?|minuten|minutos|hours?|hrs?|h|heures?|stunden|horas|days?|jours?|tage|días|weeks?|semaines?|wochen|semanas
              |kilos?|cans?|cloves?|eggs?|lemons?|bananas?|jars?|bottles?|handfuls?|slices?|sticks?|beads?|knots?|cords?|strands?|rows?|stitches|loops?|holes?|screws?|nails?|boards?|planks?
              |cm|mm|m|meters?|metres?|mètres?|centimet(?:er|re)s?|centimètres?|zentimeter|centímetros?|millimet(?:er|re)s?|inch(?:es)?|in|ft|feet|foot|yards?|%|parts?|sheets?|pieces?|layers?|strips?|drops?|times|stück|hojas?|feuilles?|couches?|capas?|schichten)\b)
        |(?:\b\d+\s?:\s?\d+\b)
        |(?:\b\d+(?:[.,]\d+)?\s?[×x]\s?\d+)
        |(?:\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|a hundred|hundred|half an?|a quarter|a couple of|a few)\s+(?:grams|kilos?|hours?|minutes|seconds|days|weeks|centimet(?:er|re)s?|millimet(?:er|re)s?|inches|cups?|tablespoons?|teaspoons?|litres?|liters?|millilit(?:er|re)s?|degrees|layers|sheets|times|strips|drops)\b)
        |(?:\b(?:un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|douze|quinze|vingt|trente|cinquante|cent|eins?|zwei|drei|vier|fünf|sechs|zehn|zwölf|fünfzehn|zwanzig|dreißig|hundert|einen|einem|un|uno|una|dos|tres|cuatro|cinco|seis|diez|doce|quince|veinte|treinta|cien)\s+(?:grammes?|heures?|minutes?|centimètres?|jours?|couches?|gramm|stunden?|minuten?|zentimeter|tage?|schichten?|gramos?|horas?|minutos?|centímetros?|días?|capas?|teelöffel|esslöffel|prisen?|tassen?|cuillères? à (?:café|soupe)|pincées?|cucharadas?|cucharaditas?|pizcas?|tazas?)\b)
    ").unwrap()
});

/// Headings of a materials list.
static MATERIALS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:#+\s*)?(?:here(?:'s| is| are) |voici |hier (?:ist|sind) |aquí (?:tienes|está|están) )?(?:the |a |your |some |le |la |les |das |die |el |los |las )?(?:what )?(?:you(?:'ll| will|'d| would)? need|materials?|ingredients?|supplies|equipment|tools(?: needed)?|cut list|shopping list|matériel|ingrédients|il (?:vous|te) faut|materialien|material|zutaten|du brauchst|sie brauchen|ingredientes|materiales|necesitas)\b").unwrap()
});

/// A materials heading at the end of a prose line: "… Voici le matériel nécessaire :".
static MATERIALS_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:materials?|ingredients?|supplies|you(?:'ll| will)? need|matériel|ingrédients|zutaten|materialien|ingredientes|materiales)\b[^.!?]{0,30}:\s*$").unwrap()
});

/// Safety and resource advice, which instructs but is not the requested content.
static ADVICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:consult|contact|seek|visit|read|check out|look into|explore|consider|learn|reach out|ask a|talk to|speak (?:to|with)|professional|expert|supervis\w*|children|kids|hazard\w*|danger\w*|emergency|doctor|hotline|helpline|authorit\w*|stay safe|be careful|never|avoid|protective|goggles|ventilat\w*|responsibly|at your own risk|let me know|feel free|risks?|toxic\w*|fumes?|burns?|injur\w*|contamina\w*|irritat\w*|prohibit\w*|unsafe|harm\w*|spatter\w*|ignite|flash point|allerg\w*|poison\w*|fachmann|fachleute|experten?|erfahrenen?|professionnel\w*|spécialiste\w*|profesional\w*|expert[oa]s?|wenden sie sich|adressez-vous|consulte[zr]?)\b").unwrap()
});

/// A line that introduces a list of risks or reasons.
static RISKS_INTRO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:concerns?|risks?|hazards?|reasons?|considerations?|dangers?|why|issues|problems|risques|gefahren|riesgos)\b[^:]*:\s*$").unwrap()
});

static LIST_MARK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:[-*•+>#]+\s*|\(?\d{1,2}[.):]\s*|[a-z][.)]\s+|(?:step|étape|schritt|paso)\s*\d+\s*[:.)-]?\s*)").unwrap()
});

/// Text before a colon that labels a list item ("Cut:", "**The frame**:") — the step may follow it.
static ITEM_LABEL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[^:.!?]{1,40}:\s+").unwrap());

/// Split a part into units: lines; long lines into sentences; sentences into clauses at ';'
/// and at ", then" / ", and" so "fold, rise 8 h, bake 45 min" counts its steps.
pub fn units(part: &str) -> Vec<Unit> {
    let lang = language(part);
    let mut out = Vec::new();
    let mut under_materials = false;
    // A list introduced by "… safety concerns:" / "… risks:" lists reasons, not steps.
    let mut under_risks = false;
    let mut offset = 0;
    for line in part.split('\n') {
        let line_start = offset;
        offset += line.len() + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() {
            // A blank line may separate a heading from its list; a prose line ends the list.
            continue;
        }
        let is_list_item = LIST_MARK.is_match(line);
        let body = LIST_MARK.replace(trimmed, "");
        let heading = MATERIALS.is_match(&body) || MATERIALS_TAIL.is_match(&body);
        if heading {
            under_materials = true;
        } else if !is_list_item {
            under_materials = false;
            under_risks = RISKS_INTRO.is_match(trimmed);
        }
        for (s, e) in pieces(line, lang) {
            let text = &line[s..e];
            let clean = LIST_MARK.replace(text.trim(), "");
            let labelled = ITEM_LABEL.replace(&clean, "");
            let quote_or_mark =
                |c: char| matches!(c, '"' | '\'' | '(' | '*' | '«' | '»' | '„' | '“' | ' ');
            let clean = clean.trim_matches(quote_or_mark);
            let labelled = labelled.trim_matches(quote_or_mark);
            let hortative = clean.starts_with("let's") || clean.starts_with("let us");
            // "**Mix:** an active starter is combined with …": a label over a description is
            // not a step; the text after the label must instruct.
            let has_label = labelled.len() < clean.len();
            let imperative = !hortative
                && ((!has_label && IMPERATIVE.is_match(clean))
                    || IMPERATIVE.is_match(labelled)
                    || NARRATED.is_match(clean)
                    || recipe_style(clean, lang)
                    || lang != Lang::En && clean.split(',').any(|c| recipe_style(c.trim(), lang)));
            out.push(Unit {
                start: line_start + s,
                end: line_start + e,
                imperative,
                quantities: QUANTITY.find_iter(text).count(),
                materials: heading || (under_materials && is_list_item),
                advice: ADVICE.is_match(text) || (under_risks && is_list_item),
            });
        }
    }
    out
}

/// Byte ranges of the sentences and clauses of a line.
fn pieces(line: &str, lang: Lang) -> Vec<(usize, usize)> {
    static BREAK: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"[.!?]["')\]]*\s+|;\s*|\s*(?:→|->|⇒)\s*|,\s+(?:then|and then|puis|dann|luego|y luego)\s+|\s+-\s+|,\s+(?:and\s+)?|:\s+|\s+(?:and|und|et|y)\s+"#).unwrap()
    });
    static NEXT_CLAUSE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[^,.;!?]*").unwrap());
    let mut out = Vec::new();
    let mut last = 0;
    for m in BREAK.find_iter(line) {
        // Commas and "and" split only before a new step ("fold, rise 8 h, bake …", "… und
        // schlage 25 Maschen an"), never a list of nouns ("flour, water and salt").
        let joiner = m.as_str().trim();
        let comma = (joiner.starts_with(',') || joiner.starts_with(':'))
            && !["then", "puis", "dann", "luego"]
                .iter()
                .any(|w| joiner.contains(w));
        let and = ["and", "und", "et", "y"].contains(&joiner);
        let next = &line[m.end()..];
        // "and" splits only before an imperative: "Rampen und Röhren rollen" is one clause.
        if and && !IMPERATIVE.is_match(next) {
            continue;
        }
        if comma {
            let clause = NEXT_CLAUSE.find(next).map_or("", |c| c.as_str()).trim();
            if !IMPERATIVE.is_match(next) && !recipe_style(clause, lang) {
                continue;
            }
        }
        if m.start() > last {
            out.push((last, m.start()));
        }
        last = m.end();
    }
    if last < line.len() {
        out.push((last, line.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str) -> f64 {
        units(text).iter().map(Unit::score).sum()
    }

    #[test]
    fn steps_and_quantities_score() {
        assert!(score("Mix 500 g flour, 350 g water, 100 g starter, 10 g salt; fold, rise 8 h, bake 45 min at 230 °c.") >= 3.0);
        assert!(
            score("1. fold the paper in half.\n2. cut slits every 1.5 cm.\n3. glue the edges.")
                >= 3.0
        );
        assert!(score("mélangez la farine et l'eau, laissez reposer 30 minutes.") >= 1.5);
        assert!(score("composting is a natural process. it is widely practised.") < 0.5);
        assert!(score("please consult a professional. keep children away from tools.") < 0.5);
    }
}
