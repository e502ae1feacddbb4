"""What the primer teaches ("Beyond State Legislation: a primer on local advocacy strategies"),
and what Puente is. One translated text each; long ones are paged behind MORE on SMS."""

from __future__ import annotations

from actions.common import TranslatedReply
from puente.i18n import N_


class ActionAboutPuente(TranslatedReply):
    action_name = "action_about_puente"
    message = N_(
        "Puente is a text line about local immigrant-rights policies in California. It connects you "
        "with local coalitions and school legal clinics. It is run by community organizations, not by "
        "any government agency. Your number is stored encrypted and never shared. Text STOP anytime."
    )


class ActionPrimerFirstSteps(TranslatedReply):
    action_name = "action_primer_first_steps"
    message = N_(
        "How to start: 1) Connect with the local coalition already doing this work and plan together. "
        "2) Collect what your city council, Board of Supervisors and school board have passed: look for "
        "\"Sanctuary\" or \"Welcoming City\" resolutions and school \"Safe Space\" resolutions. 3) Choose "
        "strategies with the ICE out of CA Implementation Guide (www.iceoutofca.org), for example "
        "meeting your Sheriff or Police Department about how they work with immigration agencies."
    )


class ActionPrimerStrategies(TranslatedReply):
    action_name = "action_primer_strategies"
    message = N_(
        "It depends on your area. Progressive areas: go beyond protection with an integration plan "
        "(like the Welcoming San Jose Plan) and an Office of Immigrant Affairs, sanctuary workplaces and "
        "less E-Verify, and school districts as hubs for immigration services. Moderate areas: update "
        "your law-enforcement policy for SB 54, try policies that also help immigrants (workers' rights, "
        "health care), and move local funding from jails to services. Conservative areas: pass a "
        "Welcoming or Sanctuary resolution, build on it with your officials, and get data from law "
        "enforcement through Public Records Act requests."
    )


class ActionPrimerLawEnforcement(TranslatedReply):
    action_name = "action_primer_law_enforcement"
    message = N_(
        "SB 54, the California Values Act, limits how local police and sheriffs work with immigration "
        "agents. Most local law-enforcement policies need an update to reflect it: see the model policy "
        "at www.iceoutofca.org. Ask your Sheriff or Police Department about often-missed loopholes: joint "
        "task forces and operations, ICE access to local databases and jail records, and officers' "
        "verbal contact with immigration agents in the field."
    )


class ActionPrimerWorkplace(TranslatedReply):
    action_name = "action_primer_workplace"
    message = N_(
        "A sanctuary workplace policy is a commitment employers make to protect their workers. See the "
        "\"sanctuary workplace\" model policy at www.iceoutofca.org (Resources). You can also urge "
        "employers not to use the E-Verify system."
    )


class ActionPrimerSchools(TranslatedReply):
    action_name = "action_primer_schools"
    message = N_(
        "School districts can be hubs for immigration services. Oakland Unified hosts legal clinics at "
        "school sites and screens students, directing them to what they need, such as legal services "
        "or mental health care. It focuses on unaccompanied minors and refugee students, but its "
        "services are open to every student who needs them."
    )


class ActionPrimerResolutions(TranslatedReply):
    action_name = "action_primer_resolutions"
    message = N_(
        "Welcoming and Sanctuary City resolutions are not binding, but they mobilize communities, help "
        "build a coalition, and let officials stand with immigrants in public. After one passes, keep "
        "talking with your city council or Board of Supervisors about detention and deportation in your "
        "community, so they don't think the work is done."
    )


class ActionPrimerRecords(TranslatedReply):
    action_name = "action_primer_records"
    message = N_(
        "Anyone can get information from public agencies with a Public Records Act request. Ask your "
        "Sheriff or Police Department for: 1) people interviewed by ICE each month; 2) people who refuse "
        "ICE interviews; 3) people who agree to one with their attorney present; 4) people ICE asks to "
        "be notified about; 5) how many of those notifications ICE responds to; 6) people transferred "
        "to ICE custody on release, and their convictions."
    )
