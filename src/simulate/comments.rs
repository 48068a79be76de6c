//! Comment text for the simulator: composed from topic-specific cores, openers, personal
//! details, closers, emoji and typing habits, so that thousands of comments read like real
//! Italian (and some English) comments rather than a handful of templates.

use super::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mood {
    Negative,
    Neutral,
    Positive,
}

/// Topics the simulator knows how to write about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Bonus600,
    Pensioni,
    Naspi,
    Reddito,
    Assistenza,
    Concorsi,
    General,
}

pub(super) const FIRST: &[&str] = &[
    "giulia",
    "marco",
    "francesca",
    "luca",
    "anna",
    "giuseppe",
    "maria",
    "antonio",
    "laura",
    "paolo",
    "chiara",
    "salvatore",
    "elena",
    "roberto",
    "sara",
    "vincenzo",
    "valentina",
    "andrea",
    "rosa",
    "stefano",
    "federica",
    "alessandro",
    "carmela",
    "davide",
    "simona",
    "fabio",
    "teresa",
    "matteo",
    "angela",
    "giovanni",
    "silvia",
    "massimo",
    "patrizia",
    "emanuele",
    "ilaria",
    "domenico",
    "barbara",
    "pietro",
    "lucia",
    "gianluca",
    "monica",
    "raffaele",
    "daniela",
    "alberto",
    "cristina",
    "nicola",
    "martina",
    "enzo",
    "paola",
    "michele",
];
pub(super) const LAST: &[&str] = &[
    "rossi",
    "russo",
    "ferrari",
    "esposito",
    "bianchi",
    "romano",
    "colombo",
    "ricci",
    "marino",
    "greco",
    "bruno",
    "gallo",
    "conti",
    "deluca",
    "mancini",
    "costa",
    "giordano",
    "rizzo",
    "lombardi",
    "moretti",
    "barbieri",
    "fontana",
    "santoro",
    "mariani",
    "rinaldi",
    "caruso",
    "ferrara",
    "galli",
    "martini",
    "leone",
    "longo",
    "gentile",
    "martinelli",
    "vitale",
    "lombardo",
    "serra",
    "coppola",
    "desantis",
    "dangelo",
    "marchetti",
    "parisi",
    "villa",
    "conte",
    "ferraro",
    "ferri",
    "fabbri",
    "bianco",
    "marini",
    "grasso",
    "valentini",
];
const CITIES: &[&str] = &[
    "Napoli",
    "Bari",
    "Torino",
    "Milano",
    "Palermo",
    "Roma",
    "Catania",
    "Bologna",
    "Firenze",
    "Genova",
    "Lecce",
    "Verona",
    "Padova",
    "Cagliari",
    "Reggio Calabria",
    "Salerno",
    "Brescia",
    "Rimini",
    "Pescara",
    "Trieste",
];

/// A plausible account handle or display name.
pub fn author(rng: &mut Rng) -> String {
    let f = *rng.pick(FIRST);
    let l = *rng.pick(LAST);
    match rng.below(5) {
        0 => format!("{f}.{l}{}", rng.range(50, 99)),
        1 => format!("{f}_{l}"),
        2 => format!("{}{}", capitalise(f), capitalise(l)),
        3 => format!("{} {}", capitalise(f), capitalise(l)),
        _ => format!("{f}{l}{}", rng.range(1, 999)),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn cores(subject: Subject, mood: Mood) -> &'static [&'static str] {
    use Mood::*;
    use Subject::*;
    // `{a|b|c}` picks one alternative: each core reads in hundreds of wordings, as real
    // people phrase the same complaint differently.
    match (subject, mood) {
        (Bonus600, Negative) => &[
            "la {mia domanda|domanda|pratica} per il {bonus 600|bonus dei 600 euro|bonus} è {ancora|sempre} {in lavorazione|ferma|bloccata} {dopo settimane|da giorni|da dieci giorni}, {una vergogna|vergogna|è scandaloso}",
            "il {sito|portale|sito dell'inps} {si blocca|va in errore|si pianta|mi butta fuori} {ogni volta che|quando|appena} {provo a|cerco di} {inviare|confermare|completare} la domanda {del bonus 600|per i 600 euro|del bonus}",
            "ho {inviato|fatto|presentato} la domanda {il primo aprile|il 1 aprile|il giorno stesso|subito} e {dei 600 euro|del bonus|dei soldi} {neanche l'ombra|niente|non ho visto nulla}",
            "{mi avete|mi hanno} {respinto|rifiutato|bocciato} la domanda {del bonus|dei 600 euro} senza {nessuna|alcuna} {spiegazione|motivazione}, {assurdo|vergognoso|ridicolo}",
            "{entrando|appena entrato|quando sono entrata} nel {mio profilo|mio fascicolo|sito} {ho visto|mi sono comparsi|c'erano} i dati di {un'altra persona|uno sconosciuto|un altro cittadino}, {è gravissimo|gravissimo|roba da denuncia}",
            "il click day {per il bonus 600|dei 600 euro|del bonus} è stato {un disastro annunciato|un disastro|una figuraccia|un fallimento totale}",
            "{ci avete|ci hanno} preso in giro con {questo bonus 600|i 600 euro|questo bonus}, {che schifo|vergogna|siete ridicoli}",
            "il pin {non arriva|non è mai arrivato|ancora non arriva} e senza pin {niente bonus|non posso chiedere i 600 euro|non si fa niente}, {siete incompetenti|incompetenti|che disorganizzazione}",
            "{da stamattina|da ore|da questa mattina} il {sito|portale} è {bloccato|in tilt|fuori uso} e non riesco a {fare|inviare|completare} la domanda {per i 600 euro|del bonus}",
            "{pagina bianca|schermata bianca|errore 500} e poi {errore|niente|di nuovo il login}, {impossibile|non c'è modo di} {chiedere|richiedere|ottenere} il bonus",
            "per {i 600 euro|il bonus} mi {chiedono|richiedono} documenti che ho {già mandato|già inviato|caricato} {tre volte|due volte|più volte}, {ridicolo|assurdo|pazzesco}",
        ],
        (Bonus600, Neutral) => &[
            "{qualcuno sa|sapete} quando {pagano|arriva|accreditano} il bonus {600|dei 600 euro} a chi ha fatto domanda {il 2 aprile|il primo giorno|la settimana scorsa}?",
            "per il bonus 600 serve il pin {dispositivo|completo|definitivo} o basta {quello ordinario|la prima parte|lo spid}?",
            "i {professionisti|liberi professionisti|commercialisti} iscritti alla cassa possono chiedere {i 600 euro|il bonus}?",
            "la mia domanda risulta {in istruttoria|in lavorazione|acquisita}, {cosa significa|che vuol dire|è normale}?",
            "il bonus 600 viene {accreditato|pagato|versato} sull'iban {indicato nella domanda|che ho inserito|del conto}?",
            "chi ha la partita iva da {gennaio|febbraio|pochi mesi} rientra nel bonus {600|dei 600 euro}?",
            "dove si vede lo stato della domanda per {i 600 euro|il bonus}?",
            "il bonus di aprile va {richiesto|chiesto} di nuovo anche per {maggio|il mese dopo}?",
        ],
        (Bonus600, Positive) => &[
            "finalmente {arrivati|accreditati|ricevuti} i 600 euro, grazie",
            "bonus {accreditato|arrivato} {stamattina|oggi|ieri sera}, grazie a chi ci lavora",
            "domanda per il bonus 600 inviata in {cinque|pochi|dieci} minuti, tutto ok",
            "{ricevuto|arrivato} il bonus oggi, {ottimo lavoro|bravi|grazie davvero}",
            "grazie {all'operatore|all'operatrice|al ragazzo del call center} che mi ha aiutato con la domanda del bonus, {gentilissimo|gentilissima|molto disponibile}",
        ],
        (Pensioni, Negative) => &[
            "la pensione di {mia madre|mio padre|mia nonna|mio suocero} non è {ancora|mai} arrivata, {vergognatevi|vergogna|che schifo}",
            "ci avete {tagliato|ridotto|decurtato} la pensione senza {avvisare|dire niente|spiegazioni}, è un furto",
            "il cedolino della pensione è {sbagliato|pieno di errori|incomprensibile} e nessuno {risponde|mi richiama|sa spiegarlo}",
            "anziani in fila {alle poste|davanti agli uffici|sotto la pioggia} per la pensione, {una vergogna|vergognoso|assurdo}",
            "l'aumento della pensione {promesso|annunciato} non si è visto, {ladri|siete dei ladri|presa in giro}",
            "da {tre|quattro|sei} mesi aspetto la {ricostituzione|liquidazione|revisione} della pensione, {pessimo servizio|servizio pessimo|assurdo}",
            "mio {padre|marito|zio} ha lavorato {quarant'anni|una vita|42 anni} e ora deve {elemosinare|aspettare mesi per} la pensione, {schifo|che schifo|vergogna}",
            "la pensione anticipata è stata {respinta|rifiutata} per un errore {vostro|dell'istituto|dei vostri uffici}",
        ],
        (Pensioni, Neutral) => &[
            "quando viene pagata la pensione di {maggio|giugno|questo mese}?",
            "la quattordicesima arriva con la pensione di {luglio|giugno|questo mese}?",
            "come si {scarica|trova|stampa} il cedolino della pensione {dal sito|online|dall'app}?",
            "la pensione di reversibilità va {richiesta|chiesta} online o {allo sportello|in sede|tramite patronato}?",
            "qualcuno sa se la pensione viene {anticipata|pagata prima} per l'emergenza?",
            "per la pensione serve ancora il {modello red|red|modulo red}?",
        ],
        (Pensioni, Positive) => &[
            "pensione arrivata {puntuale|regolare|in orario} anche questo mese, grazie",
            "grazie per aver anticipato il pagamento delle pensioni, {utile|importante|giusto} per gli anziani",
            "pratica della pensione {risolta|sistemata|chiusa} in una settimana, complimenti",
            "operatrice {gentile|gentilissima|cortese} e disponibile, finalmente la pensione di {mia madre|mio padre} è a posto",
        ],
        (Naspi, Negative) => &[
            "la naspi non è arrivata e ho {l'affitto|le bollette|il mutuo} da pagare, {vergogna|vergognatevi}",
            "domanda di naspi {respinta|rifiutata} per un errore del datore di lavoro, {assurdo|ridicolo}",
            "{tre|due|quattro} mesi senza naspi, come dovrei vivere?",
            "il calcolo della naspi è {sbagliato|errato} e nessuno {risponde|mi aiuta}",
        ],
        (Naspi, Neutral) => &[
            "la naspi viene prorogata per chi scade a {marzo|aprile}?",
            "quanto tempo ci vuole per il primo pagamento della naspi?",
            "con la naspi si può fare un lavoro {occasionale|part time|a chiamata}?",
            "dove trovo la data di pagamento della naspi?",
        ],
        (Naspi, Positive) => &[
            "naspi arrivata {oggi|stamattina}, grazie",
            "proroga della naspi accreditata, {ottimo|bene|grazie}",
            "grazie, la pratica della naspi è stata {veloce|rapida}",
        ],
        (Reddito, Negative) => &[
            "il reddito di cittadinanza è stato sospeso senza {motivo|spiegazioni}, {vergogna|vergognatevi}",
            "la carta non è stata ricaricata e ho {due bambini|tre figli|un figlio disabile}, {che schifo|vergogna}",
            "il reddito di cittadinanza arriva sempre in ritardo, {pessimo|pessimo servizio|assurdo}",
            "mi hanno {ridotto|tagliato} l'importo senza spiegazioni, {ladri|vergogna}",
        ],
        (Reddito, Neutral) => &[
            "quando {ricaricano|caricano} la carta del reddito di cittadinanza questo mese?",
            "il reddito di cittadinanza è compatibile con il bonus 600?",
            "come si comunica la variazione del nucleo familiare?",
            "dopo quanti mesi va rinnovata la domanda del reddito di cittadinanza?",
        ],
        (Reddito, Positive) => &[
            "carta ricaricata {oggi|stamattina}, grazie",
            "pratica del reddito sistemata, {gentilissimi|gentili|bravi} allo sportello",
            "grazie per la risposta chiara sul reddito di cittadinanza",
        ],
        (Assistenza, Negative) => &[
            "il numero verde è {sempre|costantemente} occupato, {vergogna|assurdo|che schifo}",
            "ho scritto {tre|quattro|cinque} volte e nessuno risponde, {pessimo servizio|servizio pessimo|vergogna}",
            "al contact center mi hanno dato informazioni {sbagliate|contraddittorie|errate}, {incompetenti|siete incompetenti}",
            "chiamo da {una settimana|giorni|tre giorni} e cade sempre la linea, {assurdo|pazzesco|vergogna}",
            "la chat dell'assistenza {mi chiude in faccia|si chiude da sola|non risponde}, {che schifo|vergogna|pessima}",
        ],
        (Assistenza, Neutral) => &[
            "qual è il numero per parlare con un operatore?",
            "a che ora apre il contact center?",
            "si può prendere appuntamento in sede {online|dal sito|per telefono}?",
            "come faccio a recuperare il pin se ho cambiato {numero di telefono|cellulare|email}?",
            "l'assistenza risponde anche {il sabato|la domenica|nei festivi}?",
        ],
        (Assistenza, Positive) => &[
            "operatore {gentilissimo|cortese|preparato} al numero verde, grazie",
            "problema risolto in chat in {dieci|pochi|cinque} minuti, complimenti",
            "grazie all'assistenza, finalmente ho recuperato il pin",
        ],
        (Concorsi, Negative) => &[
            "il concorso è stato rinviato di nuovo, {assurdo|ridicolo}",
            "la graduatoria ha degli errori e nessuno risponde",
        ],
        (Concorsi, Neutral) => &[
            "quando esce il bando del prossimo concorso?",
            "la prova del concorso sarà online o in presenza?",
            "dove si consulta la graduatoria del concorso?",
            "ci sono posti anche per la sede di {Bologna|Milano|Napoli}?",
        ],
        (Concorsi, Positive) => &[
            "graduatoria pubblicata, grazie",
            "ottima organizzazione della prova, complimenti",
        ],
        (General, Negative) => &[
            "l'inps è un disastro, ogni pratica è un calvario",
            "siete {lenti|lentissimi} e incompetenti, vergognatevi",
            "nessuno risponde mai, servizio pessimo",
            "il sito non funziona, come al solito",
            "ennesimo ritardo, i cittadini non ne possono più",
        ],
        (General, Neutral) => &[
            "dove si trova il modulo per il cambio di residenza?",
            "come si accede con lo spid?",
            "le sedi sono aperte al pubblico?",
            "qualcuno sa se la certificazione unica è già disponibile?",
        ],
        (General, Positive) => &[
            "grazie per gli aggiornamenti, molto utili",
            "con lo spid tutto più facile, bravi",
            "servizio migliorato molto, complimenti",
        ],
    }
}

/// Expands `{a|b|c}` alternatives, picking one at random each time.
fn expand(rng: &mut Rng, template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let options: Vec<&str> = rest[open + 1..open + close].split('|').collect();
        out.push_str(options[rng.below(options.len())]);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

const OPENERS_NEG: &[&str] = &[
    "",
    "",
    "",
    "Buongiorno,",
    "Scusate ma",
    "Ma è possibile che",
    "Ennesima presa in giro:",
    "Basta!",
    "Sono indignato:",
    "Ancora una volta",
    "Ditemi voi se è normale:",
    "Ciao a tutti,",
    "Allora,",
];
const OPENERS_NEU: &[&str] = &[
    "",
    "",
    "",
    "Buongiorno,",
    "Salve,",
    "Ciao,",
    "Una domanda:",
    "Scusate,",
    "Buonasera,",
];
const OPENERS_POS: &[&str] = &[
    "",
    "",
    "Buongiorno,",
    "Volevo dire che",
    "Una volta tanto:",
    "Ciao,",
];
const CLOSERS_NEG: &[&str] = &[
    "",
    "",
    "Vergognatevi.",
    "Che schifo.",
    "Non se ne può più.",
    "Rispondete!",
    "Siete una vergogna.",
    "Dimettetevi.",
    "Chi ci ripaga?",
    "Aspetto risposta.",
    "Pazzesco.",
];
const CLOSERS_NEU: &[&str] = &[
    "",
    "",
    "Grazie in anticipo.",
    "Qualcuno mi risponde?",
    "Grazie",
    "Cordiali saluti.",
];
const CLOSERS_POS: &[&str] = &[
    "",
    "Grazie!",
    "Bravi.",
    "Complimenti.",
    "Buona giornata a tutti.",
];
const EMOJI_NEG: &[&str] = &["😡", "🤬", "😤", "👎", "😢", "🤦", "😡😡"];
const EMOJI_NEU: &[&str] = &["🤔", "🙏"];
const EMOJI_POS: &[&str] = &["👍", "🙏", "😊", "❤️", "👏"];

fn detail(rng: &mut Rng) -> String {
    let city = *rng.pick(CITIES);
    match rng.below(10) {
        0 => format!("Ho {} figli e sono senza lavoro da marzo.", rng.range(1, 4)),
        1 => "Sono una commessa in cassa integrazione.".to_string(),
        2 => format!("Mio padre ha {} anni.", rng.range(70, 92)),
        3 => format!("Sono un artigiano di {city}."),
        4 => format!("Lavoro stagionale a {city}."),
        5 => format!("Ho la partita iva da {} anni.", rng.range(2, 30)),
        6 => format!("Vivo a {city} con mia madre invalida."),
        7 => "Siamo in quattro con uno stipendio solo.".to_string(),
        8 => format!("Ho chiamato {} volte.", rng.range(3, 20)),
        _ => format!("Scrivo da {city}."),
    }
}

const ENGLISH: &[(Mood, &str)] = &[
    (
        Mood::Negative,
        "The website has been down all morning and I can't submit my application. Terrible.",
    ),
    (
        Mood::Negative,
        "Still no payment after three weeks, this is a disgrace.",
    ),
    (
        Mood::Negative,
        "Nobody answers the phone, worst service ever.",
    ),
    (
        Mood::Neutral,
        "How long does it take to receive the payment?",
    ),
    (
        Mood::Neutral,
        "Is there an English version of the application form?",
    ),
    (
        Mood::Neutral,
        "Which documents do I need as a foreign resident?",
    ),
    (Mood::Positive, "Thanks, the payment arrived today!"),
    (Mood::Positive, "Great job, the new portal works well."),
];

/// A comment on `subject` in the given mood; `english` picks an English comment instead.
pub fn comment(rng: &mut Rng, subject: Subject, mood: Mood, english: bool) -> String {
    if english {
        let options: Vec<&str> = ENGLISH
            .iter()
            .filter(|(m, _)| *m == mood)
            .map(|(_, t)| *t)
            .collect();
        return (*rng.pick(&options)).to_string();
    }
    let (openers, closers, emoji) = match mood {
        Mood::Negative => (OPENERS_NEG, CLOSERS_NEG, EMOJI_NEG),
        Mood::Neutral => (OPENERS_NEU, CLOSERS_NEU, EMOJI_NEU),
        Mood::Positive => (OPENERS_POS, CLOSERS_POS, EMOJI_POS),
    };
    let mut parts: Vec<String> = Vec::with_capacity(5);
    let opener = *rng.pick(openers);
    let template = *rng.pick(cores(subject, mood));
    let core = expand(rng, template);
    if opener.is_empty() {
        parts.push(capitalise(&core));
    } else {
        parts.push(opener.to_string());
        parts.push(core);
    }
    if rng.chance(0.35) {
        parts.push(detail(rng));
    }
    let closer = *rng.pick(closers);
    if !closer.is_empty() {
        parts.push(closer.to_string());
    }
    if rng.chance(0.3) {
        parts.push((*rng.pick(emoji)).to_string());
    }
    typing_habits(rng, parts.join(" "))
}

/// How people really type: lower case, shouting, lost accents, swapped letters, extra marks.
fn typing_habits(rng: &mut Rng, text: String) -> String {
    let mut text = text;
    let roll = rng.f64();
    if roll < 0.2 {
        text = text.to_lowercase();
    } else if roll < 0.23 {
        text = text.to_uppercase();
    }
    if rng.chance(0.3) {
        text = text
            .replace('è', "e'")
            .replace('à', "a'")
            .replace('ù', "u'")
            .replace('ò', "o'");
    }
    if rng.chance(0.05) && text.len() > 12 {
        let mut chars: Vec<char> = text.chars().collect();
        let i = 1 + rng.below(chars.len() - 3);
        if chars[i].is_alphabetic() && chars[i + 1].is_alphabetic() {
            chars.swap(i, i + 1);
        }
        text = chars.into_iter().collect();
    }
    if rng.chance(0.1) {
        text.push_str(if rng.chance(0.5) { "!!!" } else { "..." });
    }
    text
}

const WAVE: &[&str] = &[
    "sito down",
    "il sito non funziona",
    "non va niente",
    "errore 503",
    "pagina bianca",
    "ma funziona a qualcuno?",
    "ancora bloccato",
    "impossibile accedere",
    "non carica",
    "da stamattina non va",
    "sito in tilt",
    "mi butta fuori",
    "ci riprovo da un'ora",
    "mi dà errore",
    "niente, non va",
    "si è bloccato tutto",
    "il sito è crollato",
    "coda infinita",
    "sono in coda da due ore",
    "anche a me non va",
    "uguale qui",
    "idem",
    "ancora niente",
    "schermata bianca",
    "non riesco a entrare",
    "il pin non funziona",
    "server in crash",
    "non si apre la pagina",
    "non risponde nessuno",
    "tutto fermo",
    "che disastro",
    "pazzesco, non va",
    "ma è possibile?",
    "sito KO",
];
const WAVE_SUFFIX: &[&str] = &[
    "",
    "",
    "",
    "!!",
    "?",
    "...",
    " 😡",
    " 🤦",
    " da un'ora",
    " ancora",
    " @INPS_it",
];

/// A short genuine complaint, as hundreds of different users write them at once.
pub fn wave_complaint(rng: &mut Rng) -> String {
    let base = *rng.pick(WAVE);
    let suffix = *rng.pick(WAVE_SUFFIX);
    let text = format!("{base}{suffix}");
    match rng.below(6) {
        0 => text.to_uppercase(),
        1 => capitalise(&text),
        _ => text,
    }
}
